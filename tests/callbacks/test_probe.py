"""The partner page's "Send a test callback": signed, through the SSRF guard, answer shown."""

import pytest
from django.urls import reverse
from standardwebhooks.webhooks import Webhook

from callbacks.models import CallbackDelivery
from tests.callbacks.conftest import Answer

pytestmark = pytest.mark.django_db


def probe_url(partner):
    return reverse("admin:callbacks_partner_test_callback", args=[partner.pk])


def shown_messages(response):
    return [str(message) for message in response.context["messages"]]


def test_a_test_callback_is_signed_and_its_answer_shown(admin_client, receiver, partner_factory):
    partner = partner_factory(callback_url=receiver.url)
    receiver.answer = lambda callback: Answer(status=202, body=b"thanks, test seen")

    response = admin_client.post(probe_url(partner), follow=True)

    [callback] = receiver.received
    payload = Webhook(partner.signing_secret).verify(callback.body, callback.headers)
    assert payload["test"] is True and payload["conversion"] is None
    assert payload["id"] == callback.delivery_id and payload["sentAt"].endswith("Z")
    [message] = shown_messages(response)
    assert message.startswith(f"Test callback to {receiver.url}: HTTP 202 in ")
    assert message.endswith("ms. Answer: thanks, test seen")
    assert not CallbackDelivery.objects.exists()


def test_a_test_callback_to_a_closed_port_reads_as_refused(
    admin_client, partner_factory, closed_port
):
    partner = partner_factory(callback_url=f"http://127.0.0.1:{closed_port}/cb")

    response = admin_client.post(probe_url(partner), follow=True)

    assert shown_messages(response) == [
        f"Test callback to http://127.0.0.1:{closed_port}/cb: "
        f"Connection refused by 127.0.0.1:{closed_port}."
    ]


def test_a_test_callback_goes_through_the_ssrf_guard(admin_client, partner_factory, settings):
    settings.CALLBACK_ALLOW_LOOPBACK = False
    partner = partner_factory()
    partner.callback_url = "http://127.0.0.1:9/cb"
    partner.save()

    response = admin_client.post(probe_url(partner), follow=True)

    [message] = shown_messages(response)
    assert "resolves to a loopback address 127.0.0.1: refused" in message


def test_a_test_callback_needs_a_post(admin_client, partner_factory):
    partner = partner_factory(callback_url="https://rewards.example/cb")

    assert admin_client.get(probe_url(partner)).status_code == 405
