"""A partner's attempts-per-hour chart, drawn by the shared stacked-bar builder
(``gokart.charts``): the same bars, heights, colours and axis as its own builder drew before."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from callbacks.admin.health_chart import health_chart_svg
from callbacks.health import HourBucket, OutcomeCounts

FIRST_HOUR = datetime(2026, 11, 30, 22, tzinfo=UTC)

# What the former builder drew for these buckets (x, y, width, height, colour), bottom first.
# Bars are now centred in their hour's slot: 0.3 units to the right.
BEFORE = [
    (36.0, 58.25, 4.19, 83.75, "#3f9c52"),
    (36.0, 24.75, 4.19, 33.50, "#e0a21b"),
    (36.0, 8.00, 4.19, 16.75, "#c8403a"),
    (50.4, 125.25, 4.19, 16.75, "#3f9c52"),
]


def approx(value: float):
    return pytest.approx(value, abs=0.06)


def test_the_bars_are_drawn_as_before():
    # Given a week of hours, two of them with attempts
    buckets = [HourBucket(hour=FIRST_HOUR + timedelta(hours=n)) for n in range(168)]
    buckets[0] = HourBucket(hour=FIRST_HOUR, counts=OutcomeCounts(delivered=5, retried=2, failed=1))
    buckets[3] = HourBucket(hour=buckets[3].hour, counts=OutcomeCounts(delivered=1))

    # When the partner page draws them
    svg = str(health_chart_svg(buckets))

    # Then the two hours' stacks are those the former builder drew, on 0 to 8
    rects = re.findall(
        r'<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)" fill="(#\w+)"'
        r' class="gk-chart-bar',
        svg,
    )
    assert [
        (float(x) + float(w) / 2, approx(float(y)), approx(float(w)), approx(float(h)), colour)
        for x, y, w, h, colour in rects
    ] == [
        (pytest.approx(x + w / 2 + 0.3, abs=0.06), approx(y), approx(w), approx(h), colour)
        for x, y, w, h, colour in BEFORE
    ]
    days = ["Tue 01", "Wed 02", "Thu 03", "Fri 04", "Sat 05", "Sun 06", "Mon 07"]
    assert re.findall(r'class="gk-chart-label">([^<]+)<', svg) == ["0", "4", "8", *days]
    # And each hour with attempts says them in its tooltip; empty hours draw nothing
    assert re.findall(r"<title>([^<]+)</title>", svg) == [
        "2026-11-30 22:00 UTC: 5 delivered, 2 retried, 1 failed",
        "2026-12-01 01:00 UTC: 1 delivered, 0 retried, 0 failed",
    ]
    assert 'aria-label="Attempts per hour over 7 days: 9 attempts, 6 delivered"' in svg


def test_a_day_starting_at_the_right_edge_gets_its_line_but_no_cut_label():
    # Given a week whose last hour begins a day
    last = datetime(2026, 12, 7, 0, tzinfo=UTC)
    buckets = [HourBucket(hour=last - timedelta(hours=167 - n)) for n in range(168)]

    svg = str(health_chart_svg(buckets))

    assert svg.count('class="gk-chart-boundary"') == 7
    assert "Mon 07" not in svg
