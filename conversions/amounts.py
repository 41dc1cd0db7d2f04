"""How money is written, one way on every page, confirmation and command: two decimals and the
currency, "0.50 USD"; an amount with sub-cent digits (a 0.0125 USD install) keeps them rather
than being rounded away, so a preview, the job's JSON and a conversion's page agree."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

import pycountry

CENTS = Decimal("0.01")


def amount(value: Decimal) -> str:
    """An amount with two decimals, "1.50", keeping sub-cent digits when there are any."""
    cents = value.quantize(CENTS)
    return str(cents if value == cents else value.normalize())


def money(value: Decimal, currency: str) -> str:
    """An amount with its currency: "1,234.50 USD", keeping sub-cent digits when there are
    any."""
    cents = value.quantize(CENTS)
    return f"{cents if value == cents else value.normalize():,} {currency}"


def money_by_currency(amounts: dict[str, Decimal]) -> str:
    """Amounts in several currencies: "12.50 USD · 3.00 EUR"; "0.00" when there are none."""
    if not amounts:
        return "0.00"
    return " · ".join(money(amount, currency) for currency, amount in sorted(amounts.items()))


def money_signed(value: Decimal, currency: str) -> str:
    """A moved amount: "+1,204.00 USD", "−0.0375 USD", "0.00 USD" (sub-cent digits kept)."""
    sign = "+" if value > 0 else "−" if value < 0 else ""
    return sign + money(abs(value), currency)


# --- reading an amount a user typed (a cell of an uploaded file) ----------------------------

# What the conversion's payout and revenue columns keep (``Conversion.payout``: 12 digits, 4 of
# them decimals), so 8 before the point.
AMOUNT_DECIMALS = 4
AMOUNT_INTEGER_DIGITS = 8
_PLAIN = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_SCIENTIFIC = re.compile(r"[0-9]*\.?[0-9]+[eE][+-]?[0-9]+")
_THOUSANDS = re.compile(r"[0-9]{1,3}(?:([,' \u00a0\u202f_])[0-9]{3})+(?:\.[0-9]*)?")
_DECIMAL_COMMA = re.compile(r"[0-9]{1,3}(?:[. \u00a0\u202f'][0-9]{3})*,[0-9]+|[0-9]*,[0-9]+")
_NOT_NUMBERS = {"nan", "snan", "qnan", "inf", "infinity"}
_LETTERS = re.compile(r"(?<![A-Za-z])[A-Za-z]{3}(?![A-Za-z])")
_MINUSES = ("-", "\u2212", "\u2013")


class AmountRefused(ValueError):
    """An amount cell that is not money as the columns keep it; ``message`` says why, for the
    user who typed it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def amount_parse(
    text: str,
    *,
    column: str = "The amount",
    decimals: int = AMOUNT_DECIMALS,
    integer_digits: int = AMOUNT_INTEGER_DIGITS,
) -> Decimal:
    """The amount a cell holds: ASCII digits, at most one decimal point, nothing else ("1234.5",
    "0.0125", "7"), 0 or more, at most ``integer_digits`` digits before the point and
    ``decimals`` after it (trailing zeros aside: "1.50000" is 1.5). Everything else is refused
    with ``AmountRefused`` and a message naming ``column``, never guessed at: "1,234" is 1234 in
    one country and 1.234 in another. Blank cells are the caller's to decide (refused here)."""
    value = text.strip()
    shown = f"{column} “{value[:40]}{'…' if len(value) > 40 else ''}”"
    if not value:
        raise AmountRefused(f"{column} is empty.")
    if not _PLAIN.fullmatch(value):
        raise AmountRefused(f"{shown} {_not_plain_reason(value)}")
    whole, _, fraction = value.partition(".")
    fraction = fraction.rstrip("0")
    if len(fraction) > decimals:
        raise AmountRefused(
            f"{shown} has {len(fraction)} decimals; amounts keep at most {decimals}."
        )
    whole = whole.lstrip("0")
    if len(whole) > integer_digits:
        largest = f"{10**integer_digits - 1:,}.{'9' * decimals}"
        raise AmountRefused(
            f"{shown} has {len(whole)} digits before the decimal point; amounts have at most "
            f"{integer_digits} (up to {largest})."
        )
    return Decimal(f"{whole or '0'}.{fraction}" if fraction else whole or "0")


def _not_plain_reason(value: str) -> str:
    """Why a value that is not plain digits and a point is not an amount (the first reason
    that fits, most specific first)."""
    unsigned = value.lstrip("+").lstrip("".join(_MINUSES)).strip()
    if value.lower().lstrip("+-") in _NOT_NUMBERS:
        return "is not a number (NaN or infinity); write the amount in digits."
    if value.startswith("#"):
        return "is a spreadsheet error, not an amount; fix the cell and upload again."
    if value.startswith(_MINUSES) or (value.startswith("(") and value.endswith(")")):
        return "is negative; amounts are 0 or more."
    if value.startswith("+"):
        return "has a sign; write the amount without one."
    if any(unicodedata.category(char) == "Sc" for char in value) or _has_currency_code(value):
        return (
            "has a currency; write the number alone (the offer's currency applies), like 1234.50."
        )
    if _SCIENTIFIC.fullmatch(unsigned):
        return (
            "is in scientific notation; format the cell as a number with its decimals shown, "
            "like 1234.50."
        )
    if _THOUSANDS.fullmatch(unsigned) and "." not in unsigned and "," in unsigned:
        return (
            "has a comma: a thousands separator or a decimal comma; write 1234 without the "
            "separator, or 1.234 with a point as the decimal point."
        )
    if _THOUSANDS.fullmatch(unsigned):
        return "has thousands separators; write the number without them, like 1234.50."
    if _DECIMAL_COMMA.fullmatch(unsigned):
        return "has a comma as the decimal point; use a point, like 1234.50."
    return "is not an amount; write digits with a point before the decimals, like 1234.50."


def _has_currency_code(value: str) -> bool:
    """Whether ``value`` names an ISO 4217 currency ("USD 5", "5.00eur")."""
    return any(
        pycountry.currencies.get(alpha_3=code.upper()) is not None
        for code in _LETTERS.findall(value)
    )
