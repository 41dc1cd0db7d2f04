"""In a real browser: a failed callback is found on the deliveries page, resent, and received.

Everything is real: the status change through the service, a Celery worker on this run's Redis
queue running the delivery code, a partner's receiver on 127.0.0.1, Chromium driving the admin.
"""

import pytest
from standardwebhooks.webhooks import Webhook

from callbacks.models import CallbackDelivery
from conversions.models import Source, Status
from conversions.services import conversion_status_set
from tests.callbacks.conftest import Answer, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

State = CallbackDelivery.State
DELIVERIES = "/admin/callbacks/callbackdelivery/"


@pytest.fixture
def failed_callback(celery_worker, receiver, partner_factory, conversion_factory):
    """A Success callback that the partner's endpoint refused with 410: Failed at once."""
    partner = partner_factory(name="Reward Wall", callback_url=receiver.url)
    conversion = conversion_factory(click__partner=partner)
    receiver.answer = lambda callback: Answer(status=410, body=b"Gone: user unknown")
    conversion_status_set(
        conversion_ids=[conversion.pk], status=Status.SUCCESS, source=Source.ADMIN
    )
    receiver.wait_for(1)
    wait_until(lambda: CallbackDelivery.objects.get(conversion=conversion).state == State.FAILED)
    return CallbackDelivery.objects.get(conversion=conversion)


def state_of(page, delivery):
    return page.locator(f"tr:has(code[title='{delivery.pk}']) .gk-callback").inner_text()


def test_a_failed_callback_is_resent_from_the_list_and_the_partner_gets_it(
    admin_page, receiver, failed_callback
):
    delivery = failed_callback
    page = admin_page
    # Given the partner now accepts callbacks, and an admin looking at the failed ones
    receiver.answer = lambda callback: Answer(status=200, body=b"ok")
    page.goto(DELIVERIES)
    page.get_by_role("link", name="Failed").click()
    assert state_of(page, delivery) == "Failed"
    assert "HTTP 410" in page.locator(f"tr:has(code[title='{delivery.pk}'])").inner_text()
    page.screenshot(path="/tmp/cbadmin_deliveries_failed.png", full_page=True)

    # When they select it and run "Resend selected callbacks"
    page.locator(f"tr:has(code[title='{delivery.pk}']) input.action-select").check()
    page.select_option("select[name=action]", "resend_action")
    page.click("button[name=index]")

    # Then they are asked to confirm, told how many will be sent
    assert "1 callback will be sent again" in page.locator(".gk-resend-count").inner_text()
    page.screenshot(path="/tmp/cbadmin_resend_confirmation.png", full_page=True)
    page.get_by_role("button", name="Yes, send 1 callback again").click()

    # And once they confirm, they are told it is queued, and the partner gets it again (same id)
    assert "1 callback queued for resending" in page.locator("ul.messagelist").inner_text()
    first, second = receiver.wait_for(2)
    assert first.delivery_id == second.delivery_id == str(delivery.pk)
    payload = Webhook(delivery.partner.signing_secret).verify(second.body, second.headers)
    assert payload["conversion"]["conversionId"] == delivery.conversion_id
    # And its page, once reloaded, shows it delivered after both attempts
    wait_until(lambda: CallbackDelivery.objects.get(pk=delivery.pk).state == State.DELIVERED)
    page.goto(f"{DELIVERIES}?q={delivery.conversion_id}")
    assert state_of(page, delivery) == "Delivered"
    page.locator(f"code[title='{delivery.pk}']").click()
    page.wait_for_url(f"**/{delivery.pk}/change/**")
    attempts = page.locator("#attempt_set-group tbody tr.form-row")
    assert attempts.count() == 2
    assert "410" in attempts.nth(0).inner_text()
    assert "Gone: user unknown" in attempts.nth(0).inner_text()
    assert "200" in attempts.nth(1).inner_text()
    assert "&quot;" not in page.locator("pre.gk-payload").inner_text()
    page.screenshot(path="/tmp/cbadmin_delivery_page.png", full_page=True)


def test_a_failed_callback_is_resent_from_its_page(admin_page, receiver, failed_callback):
    delivery = failed_callback
    page = admin_page
    receiver.answer = lambda callback: Answer(status=200, body=b"ok")
    page.goto(f"{DELIVERIES}{delivery.pk}/change/")

    page.get_by_role("link", name="Resend").click()
    page.get_by_role("button", name="Yes, send 1 callback again").click()

    assert "queued for resending: attempt 2" in page.locator("ul.messagelist").inner_text()
    first, second = receiver.wait_for(2)
    assert second.delivery_id == first.delivery_id == str(delivery.pk)
    wait_until(lambda: CallbackDelivery.objects.get(pk=delivery.pk).state == State.DELIVERED)
