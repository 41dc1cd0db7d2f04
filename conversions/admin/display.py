"""How the admin pages write statuses, money, times, durations and counts: one way each.

- Times: "2026-12-01 14:05 UTC" (``when``), the format every other page gets from
  ``gokart/formats`` too.
- Money: ``conversions.amounts`` (every page, confirmation and command writes it that way).
- Durations: in words, "7 days", "12 hours", "1 day 6 hours".
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from conversions.models import Status


def status_badge(status: str) -> SafeString:
    """A status as a coloured badge (styles in ``static/conversions/admin.css``)."""
    return format_html(
        '<span class="gk-status gk-status-{}">{}</span>', status, Status(status).label
    )


def when(value: datetime | None) -> str:
    """A timestamp in the admin's time zone, to the minute, with the zone: "2026-11-24 20:53
    UTC"; "—" for none."""
    if value is None:
        return "—"
    # The DATETIME_FORMAT of gokart/formats ("Y-m-d H:i T") by strftime: the list writes two
    # per row, and date_format took 0.2 ms each (measured).
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M %Z")


def duration(value: timedelta | None) -> str:
    """A duration in words, to the minute: "7 days", "12 hours", "1 day 6 hours"; "—" for
    none."""
    if value is None:
        return "—"
    minutes = int(value.total_seconds() // 60)
    parts = []
    for unit, size in (("day", 24 * 60), ("hour", 60), ("minute", 1)):
        count, minutes = divmod(minutes, size)
        if count:
            parts.append(f"{count} {unit}" + ("" if count == 1 else "s"))
    return " ".join(parts) or "0 minutes"


def plural(count: int, word: str = "conversion") -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")


def percent(share: float) -> str:
    """A share as a whole percentage ("62%"), or with one decimal under 10% ("2.5%")."""
    value = share * 100
    return f"{value:.1f}%" if 0 < value < 10 else f"{value:.0f}%"


def tracked_values(pairs: list[tuple[str, str]]) -> str:
    """The values a click or postback carried, by their parameter's name: "pub_click_id: c-9 ·
    pub_sub_3: blue"; "—" when it carried none."""
    return " · ".join(f"{name}: {value}" for name, value in pairs if value) or "—"


def email_masked(value: str) -> str:
    """An email address as the admin may show it, personal data: "j…@e….com"; "—" for none."""
    if not value:
        return "—"
    local, _, domain = value.rpartition("@")
    name, dot, suffix = domain.rpartition(".")
    return f"{local[:1]}…@{(name or suffix)[:1]}…{dot}{suffix if dot else ''}"
