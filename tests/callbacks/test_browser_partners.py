"""In a real browser: a paused partner's banner and health chart, resumed from its page, and
its held callbacks received (Celery worker, receiver and Chromium all real)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from callbacks.models import CallbackAttempt, CallbackDelivery
from callbacks.pausing import partner_pause
from conversions.models import Source, Status
from conversions.services import conversion_status_set
from tests.audit import assert_audit_intact
from tests.callbacks.conftest import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

State = CallbackDelivery.State
PARTNERS = "/admin/callbacks/partner/"
WIDTHS = (1440, 390)


def screenshots(page, name):
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=f"/tmp/cbadmin_{name}_{width}.png", full_page=True)
    page.set_viewport_size({"width": 1440, "height": 900})


@pytest.fixture
def paused_partner(celery_worker, receiver, partner_factory, conversion_factory):
    """A partner with a week of attempts behind it, paused with two callbacks held."""
    partner = partner_factory(name="Reward Wall", callback_url=receiver.url)
    conversions = conversion_factory.create_batch(2, click__partner=partner)
    partner_pause(partner_id=partner.pk, reason="Endpoint down for maintenance.")
    conversion_status_set(
        conversion_ids=[c.pk for c in conversions], status=Status.SUCCESS, source=Source.ADMIN
    )
    delivery = CallbackDelivery.objects.filter(partner=partner).first()
    now = timezone.now()
    CallbackAttempt.objects.bulk_create(
        CallbackAttempt(
            delivery=delivery,
            partner=partner,
            number=1,
            started_at=now - timedelta(hours=hour),
            outcome="delivered" if hour % 5 else "retry",
            duration_ms=80 + hour,
            response_status=200 if hour % 5 else 503,
            error="" if hour % 5 else "HTTP 503 from the partner.",
        )
        for hour in range(1, 160)
        for _ in range(1 + hour % 4)
    )
    return partner, conversions


def test_a_paused_partner_shows_its_banner_and_chart_and_is_resumed(
    admin_page, receiver, paused_partner
):
    partner, conversions = paused_partner
    page = admin_page

    # Given the Partners list names the paused partner
    page.goto(PARTNERS)
    assert "Callbacks paused for Reward Wall" in page.locator(".gk-paused-banner").inner_text()
    assert page.locator("tr:has-text('Reward Wall') .gk-callback-held").inner_text() == "Paused"
    screenshots(page, "partners_list")

    # When an admin opens its page, the banner, the health numbers and the chart are drawn
    page.get_by_role("link", name="Reward Wall").first.click()
    banner = page.locator(".gk-paused-banner")
    assert "Callbacks to Reward Wall are paused" in banner.inner_text()
    assert "2 callbacks held" in banner.inner_text()
    assert page.locator("svg.gk-health-chart rect").count() > 100
    assert "Attempts per hour" in page.locator("svg.gk-health-chart").get_attribute("aria-label")
    assert page.locator("svg.gk-health-chart").bounding_box()["height"] > 50
    screenshots(page, "partner_paused")

    # And they resume it
    page.get_by_role("button", name="Resume callbacks").click()

    # Then the banner is gone, and the held callbacks reach the partner
    assert "2 held callbacks going out now" in page.locator("ul.messagelist").inner_text()
    assert page.locator(".gk-paused-banner").count() == 0
    receiver.wait_for(2)
    wait_until(
        lambda: CallbackDelivery.objects.filter(partner=partner, state=State.DELIVERED).count() == 2
    )
    screenshots(page, "partner_resumed")
    assert_audit_intact()


def test_the_other_pages_at_both_widths(admin_page, receiver, paused_partner):
    """Not assertions of behaviour: screenshots of every page this work changed."""
    partner, conversions = paused_partner
    page = admin_page
    page.goto(f"{PARTNERS}{partner.pk}/rotate-secret/")
    screenshots(page, "rotate")
    page.get_by_role("button", name="Yes, rotate the secret").click()
    assert page.locator("#gk-signing-secret").inner_text().startswith("whsec_")
    screenshots(page, "reveal")
    page.goto("/admin/callbacks/callbackdelivery/")
    screenshots(page, "deliveries")
    page.get_by_role("link", name="Replay what this list shows").click()
    screenshots(page, "replay_confirmation")
    delivery = CallbackDelivery.objects.filter(partner=partner).first()
    page.goto(f"/admin/callbacks/callbackdelivery/{delivery.pk}/change/")
    screenshots(page, "delivery")
    page.goto(f"/admin/conversions/conversion/{conversions[0].pk}/change/")
    screenshots(page, "conversion_history")
    page.goto("/admin/conversions/conversion/")
    screenshots(page, "conversions")
