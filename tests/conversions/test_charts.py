"""The overview's chart, drawn by the shared stacked-bar builder (``gokart.charts``): the same
bars, heights, colours, links and axis as the overview's own builder drew before it."""

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from conversions.admin.charts import daily_status_chart
from conversions.overview import Day

# What the overview's former builder drew for these days, segment by segment (x, y, width,
# height, colour), bottom first: the plot now starts 20 units higher, the legend being HTML.
BEFORE = [
    (55.5, 151.8 - 20, 16.33, 52.2, "#2e7d32"),
    (55.5, 134.4 - 20, 16.33, 17.4, "#d4a017"),
    (55.5, 99.6 - 20, 16.33, 34.8, "#b3261e"),
    (78.83, 169.2 - 20, 16.33, 34.8, "#2e7d32"),
]


def approx(value: float):
    return pytest.approx(value, abs=0.06)  # the former builder's coordinates were not rounded


def segments(svg: str) -> list[tuple[float, float, float, float, str]]:
    rects = re.findall(
        r'<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)" fill="(#\w+)"'
        r' class="gk-chart-bar',
        svg,
    )
    return [(float(x), float(y), float(w), float(h), colour) for x, y, w, h, colour in rects]


def days(*by_status: dict[str, int]) -> list[Day]:
    first = date(2026, 11, 1)
    return [
        Day(
            day=first + timedelta(days=n),
            start=datetime.combine(first + timedelta(days=n), datetime.min.time(), UTC),
            by_status=counts,
        )
        for n, counts in enumerate(by_status)
    ]


def test_the_bars_are_drawn_as_before():
    # Given 30 days, the first with 3 Success, 1 Pending, 2 Rejected, the second 2 Success
    given = days({"success": 3, "pending": 1, "rejected": 2}, {"success": 2}, *[{}] * 28)

    # When the overview draws them
    svg = str(daily_status_chart(given, day_url=lambda day: f"/list?day={day.day}"))

    # Then the segments are those the former builder drew (to its rounding), on 0 to 10
    assert segments(svg) == [
        (approx(x), approx(y), approx(w), approx(h), c) for x, y, w, h, c in BEFORE
    ]
    labels = re.findall(r'text-anchor="end" class="gk-chart-label">([^<]+)<', svg)
    assert labels == ["0", "2.5", "5", "7.5", "10"]
    # And each of the 30 days links to its list, with its counts in the tooltip
    assert svg.count('<a href="/list?day=') == 30
    assert "<title>2026-11-01: 3 Success, 1 Pending, 2 Rejected</title>" in svg
    assert 'class="gk-chart"' in svg
    assert re.findall(r'class="gk-chart-label">(\d\d-\d\d)<', svg) == [
        "11-01",
        "11-06",
        "11-11",
        "11-16",
        "11-21",
        "11-26",
        "11-30",
    ]


def test_the_legend_is_html_under_the_chart():
    svg = str(daily_status_chart(days({"success": 1}), day_url=lambda day: "/"))

    caption = svg.split("<figcaption>", 1)[1]
    assert [
        re.sub(r"<[^>]+>", "", key)
        for key in re.findall(r'class="gk-chart-key">(.*?)</span>', caption)
    ] == ["Success", "Pending", "Rejected"]
