"""How money is written, one way on every page, confirmation and command: two decimals and the
currency, "0.50 USD"; an amount with sub-cent digits (a 0.0125 USD install) keeps them rather
than being rounded away, so a preview, the job's JSON and a conversion's page agree."""

from __future__ import annotations

from decimal import Decimal

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
