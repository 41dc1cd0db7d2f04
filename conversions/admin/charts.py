"""Server-rendered SVG charts (no JavaScript, nothing fetched): the overview's conversions per
day by status, as stacked bars, each day a link to the conversion list of that day."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from conversions.models import Status
from conversions.overview import Day

# Bottom to top, in the badges' colours (static/conversions/admin.css).
STATUS_COLOURS = {
    Status.SUCCESS: "#2e7d32",
    Status.PENDING: "#d4a017",
    Status.REJECTED: "#b3261e",
}
WIDTH, HEIGHT = 760, 230
LEFT, RIGHT, TOP, BOTTOM = 52, 8, 30, 26


def _n(value: float) -> str:
    """A coordinate as SVG gets it (format_html only formats strings)."""
    return f"{value:.1f}"


def _nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 2.5, 5 × 10ⁿ at or above ``value`` (at least 1)."""
    step = 1
    while True:
        for factor in (1, 2, 2.5, 5):
            if step * factor >= value:
                return max(int(step * factor), 1)
        step *= 10


def daily_status_chart(days: Sequence[Day], *, day_url: Callable[[Day], str]) -> SafeString:
    """Stacked bars of conversions per day by status, with a y axis, a legend, and a tooltip
    and a link (``day_url``) per day."""
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    # At least 4, so that the 5 grid lines fall on whole numbers.
    top = max(_nice_ceiling(max((sum(day.by_status.values()) for day in days), default=0)), 4)
    slot = plot_width / max(len(days), 1)
    bar = max(slot * 0.7, 1)

    def y(count: float) -> float:
        return TOP + plot_height - count / top * plot_height

    parts: list[SafeString] = []
    for tick in range(5):
        value = top * tick / 4
        label = f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"
        parts.append(
            format_html(
                '<line x1="{}" x2="{}" y1="{}" y2="{}" class="gk-chart-grid"/>'
                '<text x="{}" y="{}" class="gk-chart-axis" text-anchor="end">{}</text>',
                LEFT,
                WIDTH - RIGHT,
                y(value),
                y(value),
                LEFT - 6,
                y(value) + 4,
                label,
            )
        )
    for index, day in enumerate(days):
        x = LEFT + index * slot + (slot - bar) / 2
        base = 0
        segments = []
        for status, colour in STATUS_COLOURS.items():
            count = day.by_status.get(status, 0)
            if count <= 0:
                continue
            segments.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"'
                    ' class="gk-chart-bar gk-chart-{}"/>',
                    x,
                    y(base + count),
                    bar,
                    y(base) - y(base + count),
                    colour,
                    status,
                )
            )
            base += count
        tooltip = f"{day.day:%Y-%m-%d}: " + ", ".join(
            f"{day.by_status.get(status, 0):,} {Status(status).label}" for status in STATUS_COLOURS
        )
        parts.append(
            format_html(
                '<a href="{}"><title>{}</title>'
                '<rect x="{}" y="{}" width="{}" height="{}" class="gk-chart-hit"/>{}</a>',
                day_url(day),
                tooltip,
                x,
                TOP,
                bar,
                plot_height,
                mark_safe("".join(segments)),  # noqa: S308
            )
        )
        if index % 5 == 0 or index == len(days) - 1:
            parts.append(
                format_html(
                    '<text x="{}" y="{}" class="gk-chart-axis" text-anchor="middle">{}</text>',
                    x + bar / 2,
                    HEIGHT - 8,
                    f"{day.day:%m-%d}",
                )
            )
    legend = format_html_join(
        "",
        '<rect x="{}" y="8" width="10" height="10" fill="{}"/>'
        '<text x="{}" y="17" class="gk-chart-axis">{}</text>',
        (
            (LEFT + n * 90, colour, LEFT + n * 90 + 14, Status(status).label)
            for n, (status, colour) in enumerate(STATUS_COLOURS.items())
        ),
    )
    return format_html(
        '<svg class="gk-chart" viewBox="0 0 {} {}" role="img" aria-label="{}"'
        ' xmlns="http://www.w3.org/2000/svg">{}{}</svg>',
        WIDTH,
        HEIGHT,
        f"Conversions per day by status, last {len(days)} days",
        legend,
        mark_safe("".join(parts)),  # noqa: S308 -- each part is built by format_html
    )
