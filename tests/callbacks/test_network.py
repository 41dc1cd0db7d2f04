# ruff: noqa: S104 -- 0.0.0.0 is an address under test, nothing binds to it
"""The SSRF guard: callbacks connect to public addresses only, checked at connect time.

The autouse ``loopback_only_network`` fixture refuses every non-loopback connection at the
socket, so a broken guard would show up as a recorded outside connection, never as a packet.
"""

import socket
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from callbacks.delivery import callback_deliveries_deliver_due
from callbacks.models import CallbackDelivery, Partner
from callbacks.network import address_refusal
from conversions.models import Source, Status
from conversions.services import conversion_status_set

pytestmark = pytest.mark.django_db

BLOCKED = {
    "10.0.0.5": "a private address",
    "172.16.3.4": "a private address",
    "192.168.1.1": "a private address",
    "127.0.0.1": "a loopback address",
    "127.8.9.10": "a loopback address",
    "169.254.169.254": "a link-local address",
    "100.64.0.1": "a shared (CGNAT) address",
    "100.127.255.254": "a shared (CGNAT) address",
    "224.0.0.1": "a multicast address",
    "239.255.255.250": "a multicast address",
    "240.0.0.1": "a reserved address",
    "255.255.255.255": "a reserved address",
    "0.0.0.0": "an unspecified address",
    "::1": "a loopback address",
    "::": "an unspecified address",
    "fe80::1": "a link-local address",
    "fc00::1": "a private address",
    "fd12:3456::1": "a private address",
    "ff02::1": "a multicast address",
    "::ffff:10.0.0.5": "a private address (as ::ffff:a00:5)",
    "::ffff:127.0.0.1": "a loopback address (as ::ffff:7f00:1)",
    "::ffff:169.254.169.254": "a link-local address (as ::ffff:a9fe:a9fe)",
    "2002:a00:5::1": "a private address (as 2002:a00:5::1)",
    "64:ff9b::a00:5": "a private address (as 64:ff9b::a00:5)",
    "64:ff9b::7f00:1": "a loopback address (as 64:ff9b::7f00:1)",
}


@pytest.mark.parametrize(("address", "kind"), BLOCKED.items())
def test_every_kind_of_non_public_address_is_refused(address, kind):
    assert address_refusal(address, allow_loopback=False) == kind


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1"])
def test_the_loopback_setting_allows_loopback(address):
    assert address_refusal(address, allow_loopback=True) is None


@pytest.mark.parametrize(
    "address", ["10.0.0.5", "::ffff:127.0.0.1", "169.254.169.254", "100.64.0.1", "0.0.0.0"]
)
def test_the_loopback_setting_allows_nothing_else(address):
    assert address_refusal(address, allow_loopback=True) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1::1", "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address):
    assert address_refusal(address, allow_loopback=False) is None


@pytest.fixture
def resolve(monkeypatch):
    """Make host names resolve to the addresses given (per call, for rebinding)."""
    answers = {}
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            address = answers[host].pop(0) if len(answers[host]) > 1 else answers[host][0]
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sockaddr = (address, port, 0, 0) if family == socket.AF_INET6 else (address, port)
            return [(family, socket.SOCK_STREAM, 6, "", sockaddr)]
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


def deliver_to(url, partner_factory, conversion_factory):
    """Owe a callback to ``url`` and run one delivery pass (what a worker does)."""
    partner = partner_factory(callback_url=url)
    conversion = conversion_factory(click__partner=partner, status=Status.PENDING)
    conversion_status_set(
        conversion_ids=[conversion.pk], status=Status.SUCCESS, source=Source.ADMIN
    )
    callback_deliveries_deliver_due()
    return CallbackDelivery.objects.get(conversion=conversion)


@pytest.mark.parametrize(
    ("url", "error"),
    [
        (
            "http://10.0.0.5/cb",
            "Callback URL resolves to a private address 10.0.0.5: refused",
        ),
        (
            "http://169.254.169.254/latest/meta-data/",
            "Callback URL resolves to a link-local address 169.254.169.254: refused",
        ),
        (
            "https://[::ffff:192.168.0.1]/",
            "Callback URL resolves to a private address (as ::ffff:c0a8:1) ::ffff:192.168.0.1:"
            " refused",
        ),
        ("http://100.64.1.2:8080/", "Callback URL resolves to a shared (CGNAT) address"),
    ],
)
def test_a_callback_to_a_private_address_fails_at_once_without_a_packet_sent(
    partner_factory, conversion_factory, loopback_only_network, url, error
):
    delivery = deliver_to(url, partner_factory, conversion_factory)

    assert delivery.state == CallbackDelivery.State.FAILED
    assert delivery.last_error.startswith(error)
    assert delivery.attempt_set.get().error == delivery.last_error
    assert loopback_only_network == []


def test_loopback_is_refused_unless_the_setting_allows_it(
    partner_factory, conversion_factory, receiver, callback_settings
):
    callback_settings.CALLBACK_ALLOW_LOOPBACK = False

    delivery = deliver_to(receiver.url, partner_factory, conversion_factory)

    assert delivery.state == CallbackDelivery.State.FAILED
    assert delivery.last_error == "Callback URL resolves to a loopback address 127.0.0.1: refused"
    assert receiver.received == []


def test_a_host_name_resolving_to_a_private_address_is_refused(
    partner_factory, conversion_factory, resolve, loopback_only_network
):
    resolve["partner.example"] = ["10.1.2.3"]

    delivery = deliver_to("https://partner.example/cb", partner_factory, conversion_factory)

    assert delivery.state == CallbackDelivery.State.FAILED
    assert (
        delivery.last_error
        == "Callback URL host partner.example resolves to a private address: refused"
    )
    assert loopback_only_network == []


def test_dns_rebinding_is_caught_at_connect_time(
    partner_factory, conversion_factory, resolve, loopback_only_network
):
    # Public when someone looks the name up beforehand, private when the worker connects.
    resolve["rebind.example"] = ["93.184.216.34", "10.0.0.5"]
    assert (
        address_refusal(socket.getaddrinfo("rebind.example", 80)[0][4][0], allow_loopback=False)
        is None
    )

    delivery = deliver_to("http://rebind.example/cb", partner_factory, conversion_factory)

    assert (
        delivery.last_error
        == "Callback URL host rebind.example resolves to a private address: refused"
    )
    assert loopback_only_network == []


def test_a_public_address_passes_the_guard(
    partner_factory, conversion_factory, resolve, loopback_only_network
):
    resolve["partner.example"] = ["93.184.216.34"]

    delivery = deliver_to("http://partner.example/cb", partner_factory, conversion_factory)

    # The guard let it through to the socket, where the test's network stopped it.
    assert loopback_only_network == ["93.184.216.34"]
    assert delivery.state == CallbackDelivery.State.PENDING
    assert delivery.last_error == "Connection refused by partner.example:80."
    assert delivery.attempt_set.get().url == "http://partner.example/cb"


def test_a_host_with_one_private_address_among_public_ones_is_refused(
    partner_factory, conversion_factory, monkeypatch, loopback_only_network
):
    def getaddrinfo(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.168.7.7", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    delivery = deliver_to("http://mixed.example/", partner_factory, conversion_factory)

    assert (
        delivery.last_error
        == "Callback URL host mixed.example resolves to a private address: refused"
    )
    assert loopback_only_network == []


def test_a_redirect_to_a_private_address_is_not_followed(
    partner_factory, conversion_factory, receiver, loopback_only_network
):
    from tests.callbacks.conftest import Answer

    receiver.answer = lambda callback: Answer(
        status=307, headers={"Location": "http://169.254.169.254/latest/meta-data/"}
    )

    delivery = deliver_to(receiver.url, partner_factory, conversion_factory)

    assert delivery.state == CallbackDelivery.State.FAILED
    assert "redirects are not followed" in delivery.last_error
    assert loopback_only_network == []
    assert len(receiver.received) == 1


@pytest.mark.parametrize(
    "url", ["ftp://partner.example/cb", "javascript:alert(1)", "file:///etc/passwd", "gopher://x"]
)
def test_only_http_and_https_callback_urls_can_be_saved(url):
    partner = Partner(name="P", callback_url=url)

    with pytest.raises(ValidationError) as raised:
        partner.full_clean()

    assert "callback_url" in raised.value.message_dict


@pytest.mark.parametrize("url", ["https://partner.example/cb", "http://93.184.216.34:8080/", ""])
def test_http_and_https_urls_are_accepted_on_save(url):
    Partner(name="P", callback_url=url).full_clean()


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://10.0.0.5:8080/x", "Callback URL points to a private address 10.0.0.5: refused"),
        ("http://[::1]/", "Callback URL points to a loopback address ::1: refused"),
    ],
)
def test_a_private_address_in_the_url_is_refused_on_save(callback_settings, url, error):
    callback_settings.CALLBACK_ALLOW_LOOPBACK = False

    with pytest.raises(ValidationError) as raised:
        Partner(name="P", callback_url=url).full_clean()

    assert raised.value.message_dict["callback_url"] == [error]


def test_a_stale_lease_is_claimed_again(partner_factory, conversion_factory, receiver):
    partner = partner_factory(callback_url=receiver.url)
    conversion = conversion_factory(click__partner=partner, status=Status.PENDING)
    conversion_status_set(
        conversion_ids=[conversion.pk], status=Status.SUCCESS, source=Source.ADMIN
    )
    # A worker claimed it and died: the lease ran out a second ago.
    expired = timezone.now() - timedelta(seconds=1)
    CallbackDelivery.objects.update(lease_expires_at=expired, next_attempt_at=expired, attempts=1)

    assert callback_deliveries_deliver_due() == 1

    delivery = CallbackDelivery.objects.get()
    assert (delivery.state, delivery.attempts) == (CallbackDelivery.State.DELIVERED, 2)
    assert receiver.ids() == [str(delivery.pk)]
