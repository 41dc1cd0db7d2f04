"""``amount_parse``: an amount cell is money as the columns keep it, or refused with a message
that says why (issue 23's bad amounts), never guessed at."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conversions.amounts import (
    AMOUNT_DECIMALS,
    AMOUNT_INTEGER_DIGITS,
    AmountRefused,
    amount,
    amount_parse,
)
from conversions.models import Conversion

# Every amount the payout and revenue columns keep.
AMOUNTS = st.decimals(
    min_value=0,
    max_value=Decimal(10**AMOUNT_INTEGER_DIGITS) - Decimal("0.0001"),
    places=AMOUNT_DECIMALS,
    allow_nan=False,
    allow_infinity=False,
)


def refusal(text):
    with pytest.raises(AmountRefused) as refused:
        amount_parse(text, column="Payout")
    return refused.value.message


def test_the_limits_are_the_columns():
    field = Conversion._meta.get_field("payout")
    assert (
        field.decimal_places,
        field.max_digits - field.decimal_places,
    ) == (AMOUNT_DECIMALS, AMOUNT_INTEGER_DIGITS)


@given(AMOUNTS)
def test_every_amount_the_column_keeps_reads_back(value):
    assert amount_parse(f"{value:f}") == value
    assert amount_parse(amount(value)) == value  # as the back office writes it
    assert amount_parse(f"  {value:f}  ") == value


@pytest.mark.parametrize(
    ("text", "value"),
    [("7", "7"), ("0.0125", "0.0125"), ("1.50000", "1.5"), (".5", "0.5"), ("00012.30", "12.3")],
)
def test_plain_amounts(text, value):
    assert amount_parse(text) == Decimal(value)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1,234.50", "has thousands separators"),
        ("1 234.50", "has thousands separators"),
        ("1'234.50", "has thousands separators"),
        ("1_000", "has thousands separators"),
        ("1.234,50", "has a comma as the decimal point"),
        ("12,5", "has a comma as the decimal point"),
        ("1,234", "has a comma: a thousands separator or a decimal comma"),
        ("$5.00", "has a currency"),
        ("5.00 €", "has a currency"),
        ("EUR 5", "has a currency"),
        ("5usd", "has a currency"),
        ("-5", "is negative"),
        ("−5", "is negative"),
        ("(5.00)", "is negative"),
        ("+5", "has a sign"),
        ("1e5", "is in scientific notation"),
        ("1.5E+3", "is in scientific notation"),
        ("NaN", "is not a number (NaN or infinity)"),
        ("inf", "is not a number (NaN or infinity)"),
        ("-Infinity", "is not a number (NaN or infinity)"),
        ("#VALUE!", "is a spreadsheet error"),
        ("١٢٣", "is not an amount"),
        ("abc", "is not an amount"),
        ("1.2.3", "is not an amount"),
    ],
)
def test_what_is_not_money_is_refused_with_why(text, reason):
    assert refusal(text).startswith(f"Payout “{text}” {reason}")


def test_too_many_digits_and_decimals_say_the_limit():
    assert refusal("123456789") == (
        "Payout “123456789” has 9 digits before the decimal point; amounts have at most 8 "
        "(up to 99,999,999.9999)."
    )
    assert refusal("1234567890123.5").startswith("Payout “1234567890123.5” has 13 digits")
    assert refusal("0.12345") == "Payout “0.12345” has 5 decimals; amounts keep at most 4."
    assert refusal("  ") == "Payout is empty."


@given(AMOUNTS.filter(lambda value: value >= 1000))
def test_any_amount_with_a_thousands_separator_is_refused(value):
    whole, _, fraction = f"{value:f}".partition(".")
    text = f"{int(whole):,}" + (f".{fraction}" if fraction else "")
    assert "has thousands separators" in refusal(text)


@given(AMOUNTS.filter(lambda value: value > 0))
def test_any_negative_or_scientific_amount_is_refused(value):
    assert "is negative" in refusal(f"-{value:f}")
    assert "is in scientific notation" in refusal(f"{value:e}")


@given(st.text(max_size=30))
def test_any_text_is_an_amount_in_range_or_refused(text):
    try:
        value = amount_parse(text)
    except AmountRefused as refused:
        assert refused.message.endswith(".")
    else:
        assert Decimal(0) <= value < 10**AMOUNT_INTEGER_DIGITS
        assert value == value.quantize(Decimal(1).scaleb(-AMOUNT_DECIMALS))
