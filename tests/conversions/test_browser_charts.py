"""In a real browser: the overview's and a partner's stacked-bar charts (one builder,
``gokart/charts.py``) at 1440 and 390 px: drawn, inside the page, their legend readable."""

from datetime import timedelta

import pytest
from django.utils import timezone

from callbacks.models import CallbackAttempt, CallbackDelivery
from conversions.models import Source, Status
from conversions.services import conversion_status_set

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = ((1440, 900), (390, 844))


@pytest.fixture
def partner_with_a_week_of_attempts(partner_factory, conversion_factory):
    """A partner whose conversions were made over the last weeks, with hourly attempts."""
    partner = partner_factory(name="Reward Wall", callback_url="https://rewards.example/cb")
    now = timezone.now()
    for n in range(24):
        conversion = conversion_factory(click__partner=partner, created_at=now - timedelta(days=n))
        status = (Status.SUCCESS, Status.REJECTED)[n % 2]
        conversion_status_set(conversion_ids=[conversion.pk], status=status, source=Source.ADMIN)
    delivery = CallbackDelivery.objects.filter(partner=partner).first()
    CallbackAttempt.objects.bulk_create(
        CallbackAttempt(
            delivery=delivery,
            partner=partner,
            number=1,
            started_at=now - timedelta(hours=hour),
            outcome=("delivered", "retry", "failed")[(hour + n) % 5 // 2],
            duration_ms=80,
            response_status=200,
        )
        for hour in range(1, 160)
        for n in range(1 + hour % 6)
    )
    return partner


def chart_screenshots(page, url: str, name: str) -> None:
    for width, height in WIDTHS:
        page.set_viewport_size({"width": width, "height": height})
        page.goto(url)
        figure = page.locator("figure.gk-chart-figure")
        figure.scroll_into_view_if_needed()
        page.screenshot(path=f"/tmp/gokart_chart_{name}_{width}.png", full_page=True)
        figure.screenshot(path=f"/tmp/gokart_chart_{name}_{width}_chart.png")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        box = figure.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width
        # Labels stay legible: on a phone the chart scrolls in its box rather than shrink
        label = figure.locator("svg .gk-chart-label").first.bounding_box()
        assert label["height"] >= 8


def test_both_charts_draw_at_desktop_and_phone_widths(admin_page, partner_with_a_week_of_attempts):
    partner = partner_with_a_week_of_attempts
    chart_screenshots(admin_page, "/admin/", "overview")
    assert admin_page.locator("svg.gk-chart rect.gk-chart-bar").count() >= 10
    chart_screenshots(admin_page, f"/admin/callbacks/partner/{partner.pk}/change/", "partner")
    assert admin_page.locator("svg.gk-health-chart rect").count() > 100
