"""In a real browser: Conversion Management fits a 1440-pixel screen and a 390-pixel phone, and
the overview draws its chart."""

from datetime import timedelta

import pytest
from django.utils import timezone

from callbacks.models import CallbackDelivery
from conversions.models import Conversion, Offer, Status, StatusChange
from conversions.tracking import conversion_record_from_postback

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def realistic_conversions(offer_factory, offer_event_factory, click_factory, partner_factory):
    """Conversions with long names, as on a real network, recorded by postbacks."""
    partner = partner_factory(name="CashbackCity Rewards International")
    offer = offer_factory(
        name="Dragon Quest Mobile (multi-event)", rewarding_mode=Offer.RewardingMode.MANUAL
    )
    event = offer_event_factory(offer=offer, code="purchase", name="First purchase over $20")
    now = timezone.now()
    for n in range(12):
        click = click_factory(offer=offer, partner=partner, sub_id=f"user-{n:05d}-longer-sub")
        conversion_record_from_postback(
            gk_click_id=click.gk_click_id,
            event_code=event.code,
            transaction_id=f"TX{n:09d}",
            token=offer.postback_secret,
            now=now - timedelta(days=n * 2),
        )
    conversion = Conversion.objects.order_by("-id").first()
    CallbackDelivery.objects.update_or_create(
        status_change=StatusChange.objects.get(conversion=conversion, sequence_number=1),
        defaults={
            "conversion": conversion,
            "partner": partner,
            "sequence_number": 1,
            "state": CallbackDelivery.State.FAILED,
            "next_attempt_at": now,
            "created_at": now,
        },
    )
    return conversion


def inside(box, viewport):
    return (
        box is not None
        and box["x"] >= 0
        and box["x"] + box["width"] <= viewport["width"]
        and box["y"] >= 0
    )


def test_at_1440_every_column_fits_without_scrolling_sideways(admin_page, realistic_conversions):
    page = admin_page
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto("/admin/conversions/conversion/")
    page.screenshot(path="/tmp/gokart_list_1440.png", full_page=True)
    viewport = page.viewport_size
    row = page.locator("#result_list tbody tr").first

    for cell in ("td.field-set_status a", "td.field-callback_sent", "td.field-status_badge"):
        for box in [element.bounding_box() for element in row.locator(cell).all()]:
            assert inside(box, viewport), (cell, box)
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    assert page.locator("#changelist-filter").is_visible()  # the sidebar is shown as it was


def test_at_390_the_badge_and_buttons_show_and_the_filters_fold_away(
    admin_page, realistic_conversions
):
    page = admin_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/admin/conversions/conversion/")
    page.screenshot(path="/tmp/gokart_list_390.png", full_page=True)
    viewport = page.viewport_size
    row = page.locator("#result_list tbody tr").first

    for cell in ("td.field-status_badge .gk-status", "td.field-set_status a"):
        for box in [element.bounding_box() for element in row.locator(cell).all()]:
            assert inside(box, viewport), (cell, box)
    assert not page.locator("#changelist-filter").is_visible()
    toggle = page.locator("details.gk-filters > summary")
    assert toggle.bounding_box()["y"] < 844  # the toggle is on the first screen
    toggle.click()
    assert page.locator("#changelist-filter").is_visible()


def test_the_overview_draws_its_chart(admin_page, realistic_conversions):
    page = admin_page
    for width, height in ((1440, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto("/admin/")
        page.screenshot(path=f"/tmp/gokart_overview_{width}.png", full_page=True)
        bars = page.locator("svg.gk-chart rect.gk-chart-bar")
        assert bars.count() >= 5
        assert bars.first.bounding_box()["height"] > 0
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert page.locator("#overview-windows").is_visible()
    assert Status.PENDING in page.locator("svg.gk-chart").inner_html()
