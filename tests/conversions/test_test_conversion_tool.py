"""The offer page's test conversion tool, end to end: the admin records a test through the
public /click/ and /postback/ of a live server, a real Celery worker sends the partner's
callback and postback to a real receiver, the conversion carries the test mark the list filters
on and the overview names, and its page rejects it in one click."""

import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing
from django.urls import reverse

from callbacks.models import CallbackDelivery
from conversions.models import (
    Click,
    Conversion,
    Offer,
    OwnChangesHour,
    ReplacedPostbackToken,
    Source,
    Status,
)
from conversions.test_click_tickets import CLICK_ID_HEADER, click_ticket_sign
from conversions.test_conversions import TEST_REJECTION_REASON
from tests.audit import assert_audit_intact
from tests.callbacks import conftest as callbacks_given

pytestmark = pytest.mark.django_db(transaction=True)
receiver = callbacks_given.receiver
celery_worker = callbacks_given.celery_worker
callback_settings = callbacks_given.callback_settings
wait_until = callbacks_given.wait_until


@pytest.fixture
def tracked_here(settings, live_server, callback_settings):
    """The tool reaches /click/ and /postback/ on the live server (loopback allowed)."""
    settings.TRACKING_PUBLIC_URL = live_server.url
    return live_server


def tool_url(offer):
    return reverse("admin:conversions_offer_test_conversion", args=[offer.pk])


def messages_of(response):
    return [str(message) for message in response.context["messages"]] if response.context else []


def test_a_test_conversion_goes_out_to_the_partner_and_is_rejected_in_one_click(
    tracked_here,
    celery_worker,
    receiver,
    admin_client,
    offer_factory,
    offer_event_factory,
    partner_factory,
    conversion_factory,
):
    # Given an automatic offer and a partner with a JSON callback and a global postback
    offer = offer_factory(landing_url="https://game.example/welcome")  # no {gk_click_id} in it
    event = offer_event_factory(offer=offer, code="install", payout=Decimal("4.00"))
    base = receiver.url.rsplit("/callbacks", 1)[0]
    partner = partner_factory(
        callback_url=receiver.url, postback_url=f"{base}/pb?id={{gk_click_id}}&s={{status}}"
    )
    business = conversion_factory(click__offer=offer, offer_event=event, click__partner=partner)
    token_before = Offer.objects.get(pk=offer.pk).postback_secret

    # When the admin records a test conversion from the offer's page
    page = admin_client.get(reverse("admin:conversions_offer_change", args=[offer.pk]))
    assert b"Record test conversion" in page.content
    response = admin_client.post(
        tool_url(offer),
        {"partner": partner.pk, "member_id": "qa & 7", "event": "install"},
        follow=True,
    )

    # Then it went through the public endpoints: a test click, a Success conversion from a
    # postback, with the offer's money, and nothing left of the tool's one-time token
    test = Conversion.objects.exclude(pk=business.pk).get()
    assert response.redirect_chain[-1][0] == reverse(
        "admin:conversions_conversion_change", args=[test.pk]
    )
    assert f"Test conversion {test.pk} recorded" in messages_of(response)[0]
    assert test.click.is_test and test.click.sub_id == "qa & 7"
    assert (test.status, test.status_source, test.payout) == (
        Status.SUCCESS,
        Source.POSTBACK,
        Decimal("4.0000"),
    )
    assert not ReplacedPostbackToken.objects.exists()
    assert Offer.objects.get(pk=offer.pk).postback_secret == token_before

    # And the partner hears of it twice: its JSON callback and its templated postback
    received = receiver.wait_for(2)
    json_callback = next(c for c in received if c.method == "POST")
    assert json_callback.json["conversion"]["conversionId"] == test.pk
    assert json_callback.json["conversion"]["status"] == "Success"
    postback = next(c for c in received if c.method == "GET")
    assert parse_qs(urlsplit(postback.path).query) == {
        "id": [test.click.gk_click_id],
        "s": ["Success"],
    }

    # And the conversion's page names it a test, refreshes while a delivery is due, and has
    # the one-click rejection
    wait_until(
        lambda: (
            not CallbackDelivery.objects.filter(
                conversion=test, state=CallbackDelivery.State.PENDING
            ).exists()
        )
    )
    page = admin_client.get(reverse("admin:conversions_conversion_change", args=[test.pk]))
    assert b'id="gk-test-mark"' in page.content
    assert b'http-equiv="refresh"' not in page.content  # nothing due any more
    assert b"Reject test conversion" in page.content
    business_page = admin_client.get(
        reverse("admin:conversions_conversion_change", args=[business.pk])
    )
    assert b"gk-test-mark" not in business_page.content

    # And the list filters on the mark, and the overview names it
    only = admin_client.get(reverse("admin:conversions_conversion_changelist") + "?test=only")
    assert [row.pk for row in only.context["cl"].result_list] == [test.pk]
    hidden = admin_client.get(reverse("admin:conversions_conversion_changelist") + "?test=hide")
    assert [row.pk for row in hidden.context["cl"].result_list] == [business.pk]
    overview = admin_client.get(reverse("admin:index")).content.decode()
    assert "1 test conversion</a> recorded from offers' pages so far (1 Success)" in overview

    # When the admin rejects it with the page's one button
    rejected = admin_client.post(
        page.context["test_reject_url"], {"reason": page.context["test_reject_reason"]}
    )

    # Then it is Rejected with the tool's reason, and the partner hears of that too
    assert rejected.status_code == 302
    test.refresh_from_db()
    assert (test.status, test.status_reason) == (Status.REJECTED, TEST_REJECTION_REASON)
    received = receiver.wait_for(4)
    assert [c.json["conversion"]["status"] for c in received if c.method == "POST"] == [
        "Success",
        "Rejected",
    ]
    page = admin_client.get(reverse("admin:conversions_conversion_change", args=[test.pk]))
    assert b"Reject test conversion" not in page.content
    assert_audit_intact()


def test_a_click_is_a_test_click_only_with_a_ticket_signed_for_its_offer_and_partner(
    client, offer_factory, partner_factory, monkeypatch
):
    offer = offer_factory()
    partner, other = partner_factory(), partner_factory()
    url = f"/click/{offer.pk}/{partner.pk}/"

    # A click without a ticket is a click: no test mark, no header
    plain = client.get(url, {"sub": "u1"})
    assert plain.status_code == 302 and CLICK_ID_HEADER not in plain.headers
    assert Click.objects.get().is_test is False

    # A ticket for another partner, a forged one, or a stale one is refused, recording nothing
    stale = signing.TimestampSigner
    monkeypatch.setattr(stale, "timestamp", lambda self: signing.b62_encode(1_700_000_000))
    stale_ticket = click_ticket_sign(offer_id=offer.pk, partner_id=partner.pk)
    monkeypatch.undo()
    for ticket in (
        click_ticket_sign(offer_id=offer.pk, partner_id=other.pk),
        "forged:ticket",
        stale_ticket,
    ):
        refused = client.get(url, {"sub": "u2", "gk_test": ticket})
        assert refused.status_code == 400
        assert refused.json() == {
            "error": "Invalid gk_test: test clicks are made from the offer's page."
        }
    assert Click.objects.count() == 1

    # A fresh ticket for this offer and partner makes a test click, named in the header
    test = client.get(
        url, {"sub": "u3", "gk_test": click_ticket_sign(offer_id=offer.pk, partner_id=partner.pk)}
    )
    assert test.status_code == 302
    click = Click.objects.get(is_test=True)
    assert test.headers[CLICK_ID_HEADER] == click.gk_click_id
    assert click.sub_id == "u3"


def test_the_endpoints_refusal_is_shown_and_nothing_is_left_behind(
    tracked_here, admin_client, offer_factory, offer_event_factory, partner_factory
):
    offer = offer_factory()
    offer_event_factory(offer=offer, code="install")

    # When the partner does not exist, the click endpoint's own answer is the message
    response = admin_client.post(
        tool_url(offer), {"partner": 987654, "member_id": "qa", "event": "install"}, follow=True
    )
    assert messages_of(response) == [
        "No test recorded. The click endpoint answered HTTP 404: Unknown partner 987654."
    ]
    assert response.redirect_chain[-1][0].endswith("#gk-test-conversion")

    # When the partner is inactive, likewise
    inactive = partner_factory(is_active=False)
    response = admin_client.post(
        tool_url(offer), {"partner": inactive.pk, "event": "install"}, follow=True
    )
    assert messages_of(response) == [
        f"No test recorded. The click endpoint answered HTTP 404: Partner {inactive.pk} is not "
        "active."
    ]

    # When the event is not the offer's, the form says so
    response = admin_client.post(
        tool_url(offer), {"partner": inactive.pk, "event": "purchase"}, follow=True
    )
    assert "event: Select a valid choice." in messages_of(response)[0]
    assert not Click.objects.exists()
    assert not Conversion.objects.exists()
    assert not ReplacedPostbackToken.objects.exists()
    # What was counted in the approval window for the refused tests is taken back
    assert all(own.conversions == 0 and own.payout == 0 for own in OwnChangesHour.objects.all())


def test_an_event_paying_what_needs_a_second_person_cannot_be_tested_alone(
    tracked_here, admin_client, settings, offer_factory, offer_event_factory, partner_factory
):
    settings.IMPORT_APPROVAL_MIN_PAYOUT = "USD:100"
    offer = offer_factory(currency="USD")
    offer_event_factory(offer=offer, code="deposit", payout=Decimal("100.00"))
    partner = partner_factory()

    response = admin_client.post(
        tool_url(offer), {"partner": partner.pk, "event": "deposit"}, follow=True
    )

    assert messages_of(response) == [
        "No test recorded. Event 'deposit' pays 100.00 USD, and a test conversion is your own "
        "change: it would need a second person's approval (it moves 100.00 USD of payout "
        "(approval from 100.00 USD)). Test an event that pays less, or later."
    ]
    assert not Click.objects.exists()
    assert not OwnChangesHour.objects.exists()


def test_tests_add_up_in_the_approval_window_like_any_own_change(
    tracked_here,
    admin_client,
    admin_user,
    settings,
    offer_factory,
    offer_event_factory,
    partner_factory,
):
    # Given approval from 10.00 USD of payout, and an event paying 4.00
    settings.IMPORT_APPROVAL_MIN_PAYOUT = "USD:10"
    offer = offer_factory(currency="USD")
    offer_event_factory(offer=offer, code="install", payout=Decimal("4.00"))
    partner = partner_factory()
    form = {"partner": partner.pk, "event": "install"}

    # When one admin records three tests
    answers = [
        messages_of(admin_client.post(tool_url(offer), form, follow=True))[0] for _ in range(3)
    ]

    # Then two are recorded, and the third would make 12.00 USD alone: refused
    assert [answer.startswith("Test conversion") for answer in answers] == [True, True, False]
    assert (
        "with the 8.00 USD of payout you moved in the last 24 hours it moves 12.00 USD"
        in answers[2]
    )
    assert Conversion.objects.count() == 2
    own = OwnChangesHour.objects.get(user=admin_user)
    assert (own.conversions, own.payout) == (2, Decimal("8.00"))
    assert_audit_intact()


class _ClickThenSilence(BaseHTTPRequestHandler):
    """A tracking tier that takes the click and then keeps the postback past the deadline."""

    def do_GET(self):  # noqa: N802 -- http.server's name
        if self.path.startswith("/click/"):
            self.send_response(302)
            self.send_header(CLICK_ID_HEADER, "f" * 32)
            self.send_header("Location", "https://example.com/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        time.sleep(3)  # past the tool's 1 s read timeout in these tests

    def log_message(self, *args):
        pass


def test_a_postback_left_unanswered_stays_counted_as_it_may_have_been_recorded(
    admin_client,
    admin_user,
    settings,
    callback_settings,
    offer_factory,
    offer_event_factory,
    partner_factory,
):
    # Given a tracking address that answers the click and never the postback
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ClickThenSilence)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.TRACKING_PUBLIC_URL = f"http://127.0.0.1:{server.server_port}"
    offer = offer_factory(currency="USD")
    offer_event_factory(offer=offer, code="install", payout=Decimal("4.00"))
    partner = partner_factory()
    try:
        # When an admin records a test
        response = admin_client.post(
            tool_url(offer), {"partner": partner.pk, "event": "install"}, follow=True
        )
    finally:
        server.shutdown()
        server.server_close()

    # Then they are told the outcome is unknown and where to look
    (message,) = messages_of(response)
    assert message.startswith("Test outcome unknown. The postback endpoint did not answer (")
    assert message.endswith(
        f"The test may have been recorded: look for click {'f' * 32} among the test conversions."
    )
    # And the test stays counted in their approval window, its token gone
    own = OwnChangesHour.objects.get(user=admin_user)
    assert (own.conversions, own.payout) == (1, Decimal("4.00"))
    assert not ReplacedPostbackToken.objects.exists()


def test_the_tool_needs_the_status_permission_as_well_as_the_offers(
    client, django_user_model, offer_factory, offer_event_factory, partner_factory
):
    from django.contrib.auth.models import Permission

    offer = offer_factory()
    offer_event_factory(offer=offer, code="install")
    user = django_user_model.objects.create_user("ops", password="pw-ops-123456", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(codename__in=["view_offer", "change_offer", "view_conversion"])
    )
    client.force_login(user)

    page = client.get(reverse("admin:conversions_offer_change", args=[offer.pk]))
    assert page.status_code == 200 and b"Record test conversion" not in page.content
    response = client.post(tool_url(offer), {"partner": partner_factory().pk, "event": "install"})
    assert response.status_code == 403
    assert not Click.objects.exists()
