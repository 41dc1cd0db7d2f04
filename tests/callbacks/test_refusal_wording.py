"""An SSRF refusal shown to an admin says "a private address" and never the address a host
name resolved to: the test callback and a delivery's stored error would otherwise map the
internal network for anyone who may change a partner's URL (security item 6)."""

import socket

import pytest
from django.urls import reverse

from callbacks.delivery import callback_deliveries_deliver_due
from callbacks.models import CallbackDelivery
from conversions.models import Source, Status
from conversions.services import conversion_status_set

pytestmark = pytest.mark.django_db


@pytest.fixture
def resolve(monkeypatch):
    """Make host names resolve to the addresses given."""
    answers: dict[str, list[str]] = {}
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            return [
                (
                    socket.AF_INET6 if ":" in address else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (address, port, 0, 0) if ":" in address else (address, port),
                )
                for address in answers[host]
            ]
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


def shown_messages(response):
    return [str(message) for message in response.context["messages"]]


@pytest.mark.parametrize(
    "addresses",
    [["10.1.2.3"], ["169.254.169.254"], ["93.184.216.34", "192.168.7.7"], ["::ffff:10.9.8.7"]],
)
def test_the_test_callback_does_not_name_what_a_host_resolved_to(
    admin_client, partner_factory, resolve, loopback_only_network, addresses
):
    # Given a partner whose URL names a host that resolves to the internal network
    resolve["db.internal.example"] = addresses
    partner = partner_factory(callback_url="http://db.internal.example:5432/cb")

    # When an admin sends a test callback
    response = admin_client.post(
        reverse("admin:callbacks_partner_test_callback", args=[partner.pk]), follow=True
    )

    # Then the refusal keeps the URL typed and says "a private address", naming no address
    [message] = shown_messages(response)
    assert message == (
        "Test callback to http://db.internal.example:5432/cb: Callback URL host "
        "db.internal.example resolves to a private address: refused"
    )
    for address in addresses:
        assert address not in message
    assert loopback_only_network == []


def test_a_deliverys_stored_error_does_not_name_the_resolved_address(
    admin_client, partner_factory, conversion_factory, resolve, loopback_only_network
):
    # Given a callback owed to a host that resolves to a private address
    resolve["partner.example"] = ["10.1.2.3"]
    partner = partner_factory(callback_url="https://partner.example/cb")
    conversion = conversion_factory(click__partner=partner, status=Status.PENDING)
    conversion_status_set(
        conversion_ids=[conversion.pk], status=Status.SUCCESS, source=Source.ADMIN
    )

    # When a worker tries it
    callback_deliveries_deliver_due()

    # Then the delivery fails at once, and neither its error nor its page names 10.1.2.3
    delivery = CallbackDelivery.objects.get(conversion=conversion)
    assert delivery.state == CallbackDelivery.State.FAILED
    assert delivery.last_error == (
        "Callback URL host partner.example resolves to a private address: refused"
    )
    assert delivery.attempt_set.get().error == delivery.last_error
    page = admin_client.get(
        reverse("admin:callbacks_callbackdelivery_change", args=[delivery.pk])
    ).content.decode()
    assert "https://partner.example/cb" in page and "10.1.2.3" not in page


def test_a_literal_address_the_admin_typed_is_still_named(admin_client, partner_factory, settings):
    settings.CALLBACK_ALLOW_LOOPBACK = False
    partner = partner_factory()
    partner.callback_url = "http://127.0.0.1:9/cb"
    partner.save()

    response = admin_client.post(
        reverse("admin:callbacks_partner_test_callback", args=[partner.pk]), follow=True
    )

    [message] = shown_messages(response)
    assert message.endswith("Callback URL resolves to a loopback address 127.0.0.1: refused")
