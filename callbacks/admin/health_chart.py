"""The partner page's chart: attempts per hour by outcome over 7 days, as inline SVG.

Rendered on the server (no JavaScript, no external assets: it works offline); each bar is a
stack of delivered (green), retried (amber) and failed (red) attempts with a tooltip (``<title>``).
The SVG scales to the page width (``viewBox``), so it reads at 390 px as at 1440 px.
"""

from __future__ import annotations

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from callbacks.health import HourBucket

_WIDTH = 840
_HEIGHT = 160
_LEFT = 36  # room for the y-axis labels
_BOTTOM = 18  # room for the day labels
_TOP = 8  # room for the top label
_COLOURS = (("delivered", "#3f9c52"), ("retried", "#e0a21b"), ("failed", "#c8403a"))


def _nice_maximum(value: int) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000):
        if value <= step * 4:
            return step * 4
    magnitude = 10 ** (len(str(value)) - 1)
    return ((value // magnitude) + 1) * magnitude


def health_chart_svg(buckets: list[HourBucket]) -> SafeString:
    """The chart of ``buckets`` (one per hour, oldest first) as an accessible SVG element."""
    plot_width = _WIDTH - _LEFT
    plot_height = _HEIGHT - _BOTTOM - _TOP
    top = _nice_maximum(max((bucket.counts.total for bucket in buckets), default=0) or 1)
    bar = plot_width / max(len(buckets), 1)
    total = sum(bucket.counts.total for bucket in buckets)
    delivered = sum(bucket.counts.delivered for bucket in buckets)
    parts = [
        f'<svg class="gk-health-chart" viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img" '
        f'aria-label="Attempts per hour over 7 days: {total:,} '
        f'attempts, {delivered:,} delivered">'
    ]
    for fraction in (0, 0.5, 1):
        y = _TOP + plot_height - fraction * plot_height
        parts.append(
            f'<line x1="{_LEFT}" x2="{_WIDTH}" y1="{y:.1f}" y2="{y:.1f}" class="gk-chart-grid"/>'
            f'<text x="{_LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" class="gk-chart-label">'
            f"{int(top * fraction):,}</text>"
        )
    for index, bucket in enumerate(buckets):
        x = _LEFT + index * bar
        y = float(_TOP + plot_height)
        if bucket.hour.hour == 0:
            parts.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{_TOP}" y2="{_TOP + plot_height}" '
                'class="gk-chart-day"/>'
                f'<text x="{x + 2:.1f}" y="{_HEIGHT - 4}" class="gk-chart-label">'
                f"{bucket.hour:%a %d}</text>"
            )
        counts = bucket.counts
        if not counts.total:
            continue
        title = escape(
            f"{bucket.hour:%Y-%m-%d %H:00} UTC: {counts.delivered:,} delivered, "
            f"{counts.retried:,} retried, {counts.failed:,} failed"
        )
        parts.append(f'<g class="gk-chart-bar"><title>{title}</title>')
        for name, colour in _COLOURS:
            count = getattr(counts, name)
            if not count:
                continue
            height = count / top * plot_height
            y -= height
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.2f}" width="{max(bar - 0.6, 0.6):.2f}" '
                f'height="{height:.2f}" fill="{colour}"/>'
            )
        parts.append("</g>")
    parts.append("</svg>")
    legend = "".join(
        # A class per outcome (colours in callbacks/admin.css): no style attribute, which the
        # Content-Security-Policy refuses.
        f'<span class="gk-chart-key"><i class="gk-chart-key-{name}"></i>{name}</span>'
        for name, _ in _COLOURS
    )
    return mark_safe(  # noqa: S308 -- every interpolated text is a number, a date or escaped
        f'<figure class="gk-health-figure">{"".join(parts)}'
        f"<figcaption>Attempts per hour, last 7 days (UTC). {legend}</figcaption></figure>"
    )
