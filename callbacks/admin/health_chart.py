"""The partner page's chart: callback attempts per hour by outcome over 7 days (drawn by
``gokart.charts``): delivered (green), retried (amber) and failed (red), each hour's counts in
its tooltip, a dashed line where each day begins."""

from __future__ import annotations

from django.utils.safestring import SafeString

from callbacks.health import HourBucket
from gokart.charts import Bar, Frame, Series, nice_ceiling, stacked_bar_chart

SERIES = (
    Series("delivered", "delivered", "#3f9c52"),
    Series("retried", "retried", "#e0a21b"),
    Series("failed", "failed", "#c8403a"),
)
FRAME = Frame(
    width=840,
    height=160,
    left=36,
    right=0,
    top=8,
    bottom=18,
    gridlines=3,
    bar_share=0.875,
    css_class="gk-health-chart",
)


def health_chart_svg(buckets: list[HourBucket]) -> SafeString:
    """The chart of ``buckets`` (one per hour, oldest first), as an accessible figure."""
    peak = max((bucket.counts.total for bucket in buckets), default=0)
    total = sum(bucket.counts.total for bucket in buckets)
    delivered = sum(bucket.counts.delivered for bucket in buckets)
    bars = [
        Bar(
            counts={s.key: getattr(bucket.counts, s.key) for s in SERIES},
            title=f"{bucket.hour:%Y-%m-%d %H:00} UTC: "
            + ", ".join(f"{getattr(bucket.counts, s.key):,} {s.label}" for s in SERIES),
            boundary=f"{bucket.hour:%a %d}" if bucket.hour.hour == 0 else "",
        )
        for bucket in buckets
    ]
    return stacked_bar_chart(
        bars,
        series=SERIES,
        frame=FRAME,
        # Four nice steps, so that the middle grid line falls on a whole number too.
        y_top=4 * nice_ceiling(-(-peak // 4)),
        description=(f"Attempts per hour over 7 days: {total:,} attempts, {delivered:,} delivered"),
        caption="Attempts per hour, last 7 days (UTC).",
    )
