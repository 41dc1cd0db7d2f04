"""Stacked-bar charts as inline SVG: the overview's conversions per day by status and a
partner's callback attempts per hour by outcome.

Rendered on the server: no JavaScript, nothing fetched, so it works offline and under the
Content-Security-Policy (colours are SVG presentation attributes, never a ``style`` attribute).
The SVG scales to its box (``viewBox``); ``static/gokart/charts.css``, which a page showing a
chart links, keeps it legible on a phone by letting a narrow screen scroll it sideways instead
of shrinking its labels below reading size. The legend is HTML under the chart for the same
reason. Each bar carries a tooltip (``<title>``) and, when given, a link.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

# Room a boundary's label needs on its right ("Mon 07" at the labels' size), in SVG units.
_BOUNDARY_LABEL_WIDTH = 40


@dataclass(frozen=True)
class Series:
    """One layer of the stacks, bottom first: ``key`` names it in each bar's ``counts``."""

    key: str
    label: str
    colour: str


@dataclass(frozen=True)
class Bar:
    """One stack. ``label`` is written under it; ``boundary``, when set, draws a dashed line
    before it with that label (a new day among hours)."""

    counts: Mapping[str, int]
    title: str
    url: str = ""
    label: str = ""
    boundary: str = ""


@dataclass(frozen=True)
class Frame:
    """The chart's size and margins in SVG units, its horizontal grid lines (0 and ``top``
    included) and the share of its slot each bar fills. ``css_class`` is the SVG's own class,
    by which its page sizes it."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    gridlines: int
    bar_share: float
    css_class: str


def nice_ceiling(value: float) -> int:
    """The smallest whole number of the form 1, 2, 2.5 or 5 × 10ⁿ at or above ``value``
    (at least 1): the top of an axis a reader can divide in their head."""
    step = 1
    while True:
        for factor in (1, 2, 2.5, 5):
            candidate = step * factor
            if candidate >= value and candidate == int(candidate):
                return int(candidate)
        step *= 10


def _n(value: float) -> str:
    """A coordinate as SVG gets it (format_html only formats strings)."""
    return f"{value:.1f}"


def _tick_label(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def stacked_bar_chart(
    bars: Sequence[Bar],
    *,
    series: Sequence[Series],
    frame: Frame,
    y_top: int,
    description: str,
    caption: str,
) -> SafeString:
    """A ``<figure>``: the SVG of ``bars`` (left to right) on a y axis from 0 to ``y_top``,
    ``description`` its accessible name, and a caption of ``caption`` and the series' legend.
    Segments are ``rect.gk-chart-bar.gk-chart-<key>``; a bar with nothing in it and no link
    is left out."""
    plot = _Plot(frame, y_top=y_top, bars=len(bars))
    parts = _gridlines(plot)
    for index, bar in enumerate(bars):
        parts.extend(_bar(plot, bar, index=index, series=series))
    legend = format_html_join(
        "",
        '<span class="gk-chart-key"><svg width="10" height="10" aria-hidden="true">'
        '<rect width="10" height="10" fill="{}"/></svg>{}</span>',
        ((layer.colour, layer.label) for layer in series),
    )
    return format_html(
        '<figure class="gk-chart-figure"><div class="gk-chart-scroll">'
        '<svg class="{}" viewBox="0 0 {} {}" role="img" aria-label="{}"'
        ' xmlns="http://www.w3.org/2000/svg">{}</svg></div>'
        "<figcaption>{} {}</figcaption></figure>",
        frame.css_class,
        frame.width,
        frame.height,
        description,
        mark_safe("".join(parts)),  # noqa: S308 -- each part is built by format_html
        caption,
        legend,
    )


class _Plot:
    """The plot area of one chart: where a count falls on the y axis, and each bar's slot."""

    def __init__(self, frame: Frame, *, y_top: int, bars: int) -> None:
        self.frame = frame
        self.y_top = y_top
        self.height = frame.height - frame.top - frame.bottom
        self.slot = (frame.width - frame.left - frame.right) / max(bars, 1)
        self.bar_width = max(self.slot * frame.bar_share, 0.6)
        self.bottom = frame.top + self.height

    def y(self, count: float) -> float:
        return self.bottom - count / max(self.y_top, 1) * self.height


def _gridlines(plot: _Plot) -> list[SafeString]:
    """The horizontal grid lines, each with its value on the left."""
    f = plot.frame
    lines = []
    for tick in range(f.gridlines):
        value = plot.y_top * tick / max(f.gridlines - 1, 1)
        lines.append(
            format_html(
                '<line x1="{}" x2="{}" y1="{}" y2="{}" class="gk-chart-grid"/>'
                '<text x="{}" y="{}" text-anchor="end" class="gk-chart-label">{}</text>',
                f.left,
                f.width - f.right,
                _n(plot.y(value)),
                _n(plot.y(value)),
                f.left - 6,
                _n(plot.y(value) + 4),
                _tick_label(value),
            )
        )
    return lines


def _bar(plot: _Plot, bar: Bar, *, index: int, series: Sequence[Series]) -> list[SafeString]:
    """The ``index``-th bar: its boundary and label, if any, and its stack (in a link and
    with its tooltip; nothing for an empty bar without a link)."""
    f, bar_width = plot.frame, plot.bar_width
    slot_x = f.left + index * plot.slot
    x = slot_x + (plot.slot - bar_width) / 2
    parts = []
    if bar.boundary:
        parts.append(_boundary(bar.boundary, x=slot_x, frame=f))
    if bar.label:
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="middle" class="gk-chart-label">{}</text>',
                _n(x + bar_width / 2),
                f.height - 6,
                bar.label,
            )
        )
    segments = _segments(plot, bar, x=x, series=series)
    stack = mark_safe("".join(segments))  # noqa: S308 -- each built by format_html
    if bar.url:
        parts.append(
            format_html(
                '<a href="{}"><title>{}</title>'
                '<rect x="{}" y="{}" width="{}" height="{}" class="gk-chart-hit"/>{}</a>',
                bar.url,
                bar.title,
                _n(x),
                f.top,
                _n(bar_width),
                plot.height,
                stack,
            )
        )
    elif segments:
        parts.append(format_html("<g><title>{}</title>{}</g>", bar.title, stack))
    return parts


def _segments(plot: _Plot, bar: Bar, *, x: float, series: Sequence[Series]) -> list[SafeString]:
    """A bar's stack: one rectangle per series it counts, bottom first."""
    segments = []
    base = 0
    for layer in series:
        count = bar.counts.get(layer.key, 0)
        if count <= 0:
            continue
        segments.append(
            format_html(
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"'
                ' class="gk-chart-bar gk-chart-{}"/>',
                _n(x),
                _n(plot.y(base + count)),
                _n(plot.bar_width),
                _n(plot.y(base) - plot.y(base + count)),
                layer.colour,
                layer.key,
            )
        )
        base += count
    return segments


def _boundary(label: str, *, x: float, frame: Frame) -> SafeString:
    line = format_html(
        '<line x1="{}" x2="{}" y1="{}" y2="{}" class="gk-chart-boundary"/>',
        _n(x),
        _n(x),
        frame.top,
        frame.height - frame.bottom,
    )
    if x + _BOUNDARY_LABEL_WIDTH > frame.width - frame.right:
        return line  # its label would be cut at the chart's edge
    return format_html(
        '{}<text x="{}" y="{}" class="gk-chart-label">{}</text>',
        line,
        _n(x + 2),
        frame.height - 6,
        label,
    )
