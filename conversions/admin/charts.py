"""The overview's chart: conversions per day by status over the last days, each day a link to
the conversion list of that day (drawn by ``gokart.charts``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django.utils.safestring import SafeString

from conversions.models import Status
from conversions.overview import Day
from gokart.charts import Bar, Frame, Series, nice_ceiling, stacked_bar_chart

# Bottom to top, in the badges' colours (static/conversions/admin.css).
SERIES = (
    Series(Status.SUCCESS, Status.SUCCESS.label, "#2e7d32"),
    Series(Status.PENDING, Status.PENDING.label, "#d4a017"),
    Series(Status.REJECTED, Status.REJECTED.label, "#b3261e"),
)
FRAME = Frame(
    width=760,
    height=210,
    left=52,
    right=8,
    top=10,
    bottom=26,
    gridlines=5,
    bar_share=0.7,
    css_class="gk-chart",
)


def daily_status_chart(days: Sequence[Day], *, day_url: Callable[[Day], str]) -> SafeString:
    """Stacked bars of conversions per day by status, with a y axis, a legend, and a tooltip
    and a link (``day_url``) per day; every fifth day (and the last) labelled."""
    peak = max((sum(day.by_status.values()) for day in days), default=0)
    bars = [
        Bar(
            counts=day.by_status,
            title=f"{day.day:%Y-%m-%d}: "
            + ", ".join(f"{day.by_status.get(s.key, 0):,} {s.label}" for s in SERIES),
            url=day_url(day),
            label=f"{day.day:%m-%d}" if index % 5 == 0 or index == len(days) - 1 else "",
        )
        for index, day in enumerate(days)
    ]
    return stacked_bar_chart(
        bars,
        series=SERIES,
        frame=FRAME,
        # At least 4, so that the 5 grid lines fall on whole numbers.
        y_top=max(nice_ceiling(peak), 4),
        description=f"Conversions per day by status, last {len(days)} days",
        caption="Conversions per day; a bar opens that day's conversions.",
    )
