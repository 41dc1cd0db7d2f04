"""Offers' currencies are ISO 4217 codes (pycountry's list): the approval thresholds and the
money on every page are keyed by them, so free text must not make a currency of its own."""

from __future__ import annotations

import pycountry
from django.core.exceptions import ValidationError


def currency_code_check(value: str) -> None:
    """Refuse anything but an ISO 4217 currency code in capitals ("USD", "EUR", "JPY")."""
    if value != value.upper() or pycountry.currencies.get(alpha_3=value) is None:
        raise ValidationError(
            "%(value)s is not an ISO 4217 currency code: use the three capital letters of a "
            "currency, such as USD, EUR or JPY.",
            code="invalid_currency",
            params={"value": value},
        )
