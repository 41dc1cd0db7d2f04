"""How the conversion pages write statuses, money, times and counts."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from conversions.models import Status

CENTS = Decimal("0.01")


def status_badge(status: str) -> SafeString:
    """A status as a coloured badge (styles in ``static/conversions/admin.css``)."""
    return format_html(
        '<span class="gk-status gk-status-{}">{}</span>', status, Status(status).label
    )


def money(amount: Decimal, currency: str) -> str:
    """An amount with its currency: "1.50 USD", keeping sub-cent digits when there are any."""
    cents = amount.quantize(CENTS)
    return f"{cents if amount == cents else amount.normalize()} {currency}"


def short_time(value: datetime) -> str:
    """A timestamp in the admin's time zone, to the minute: "2026-11-24 20:53"."""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


def plural(count: int, word: str = "conversion") -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")
