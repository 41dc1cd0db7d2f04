"""Templated partner postbacks end to end: a status change, a real Celery worker, a real
receiver on 127.0.0.1 that gets the partner's URL with every macro filled and encoded."""

from urllib.parse import parse_qs, urlsplit

import pytest

from callbacks.models import CallbackAttempt, CallbackDelivery, PartnerEventPostback
from callbacks.pausing import partner_pause, partner_resume
from callbacks.postback_macros import MACROS
from callbacks.replay import ReplaySelection, callback_deliveries_replay
from conversions.models import Source, Status
from conversions.services import conversion_status_set
from tests.audit import assert_audit_intact
from tests.callbacks.conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

Kind = CallbackDelivery.Kind
State = CallbackDelivery.State
AWKWARD = "a&b=c #d e/f?é 漢"


def base_of(receiver):
    return receiver.url.rsplit("/callbacks", 1)[0]


def every_macro_template(receiver):
    return f"{base_of(receiver)}/pb?" + "&".join(f"{m.name}={{{m.name}}}" for m in MACROS)


def templated_partner(partner_factory, receiver, query):
    """A partner with only a global postback: ``/pb?<query>`` on the receiver."""
    return partner_factory(postback_url=f"{base_of(receiver)}/pb?{query}")


def query_of(callback):
    """The received query, decoded: each parameter once."""
    query = parse_qs(urlsplit(callback.path).query, keep_blank_values=True)
    assert all(len(values) == 1 for values in query.values()), query
    return {name: values[0] for name, values in query.items()}


def succeed(conversion):
    conversion_status_set(
        conversion_ids=[conversion.pk], status=Status.SUCCESS, source=Source.ADMIN
    )


def deliveries_of(conversion, kind=None):
    deliveries = CallbackDelivery.objects.filter(conversion=conversion)
    if kind:
        deliveries = deliveries.filter(kind=kind)
    return deliveries.order_by("sequence_number", "kind")


def test_the_receiver_gets_every_macro_filled_and_url_encoded(
    celery_worker, receiver, partner_factory, conversion_factory
):
    # Given a partner with only a global postback naming every macro, and a static header
    partner = partner_factory(
        postback_url=every_macro_template(receiver),
        static_header_name="X-Api-Token",
        static_header_value="tok-123",
    )
    conversion = conversion_factory(
        click__partner=partner,
        click__sub_id=AWKWARD,
        click__offer__name=f"Offer {AWKWARD}",
        offer_event__name=f"Event {AWKWARD}",
        transaction_id=f"T {AWKWARD}",
        status=Status.SUCCESS,
    )

    # When the conversion is rejected with a reason that needs encoding
    conversion_status_set(
        conversion_ids=[conversion.pk],
        status=Status.REJECTED,
        source=Source.ADMIN,
        reason=f"Fraud {AWKWARD}",
    )

    # Then the receiver gets one GET, no body, no signature, the static header
    [postback] = receiver.wait_for(1)
    assert postback.method == "GET"
    assert postback.body == b""
    assert "webhook-signature" not in postback.headers
    assert postback.headers["x-api-token"] == "tok-123"
    # And no value broke out of its parameter: every one arrived whole
    raw_query = urlsplit(postback.path).query
    assert "#" not in postback.path and " " not in postback.path
    assert raw_query.count("&") == len(MACROS) - 1
    delivery = deliveries_of(conversion).get()
    conversion.refresh_from_db()
    click, event, offer = conversion.click, conversion.offer_event, conversion.offer
    assert query_of(postback) == {
        "callback_id": str(delivery.id),
        "gk_click_id": click.gk_click_id,
        "sub": AWKWARD,
        "pub_member_id": AWKWARD,
        "gk_offer_id": str(offer.pk),
        "gk_offer_name": f"Offer {AWKWARD}",
        "event_id": str(event.pk),
        "event_code": event.code,
        "event_name": f"Event {AWKWARD}",
        "conversion_id": str(conversion.pk),
        "transaction_id": f"T {AWKWARD}",
        "status": "Rejected",
        "reason": f"Fraud {AWKWARD}",
        "payout": "1.5000",
        "revenue": "2.0000",
        "currency": "USD",
        "status_change_number": "2",
        "status_changed_at": query_of(postback)["status_changed_at"],
        "status_changed_unix": str(int(conversion.status_changed_at.timestamp())),
        "conversion_time": query_of(postback)["conversion_time"],
        "click_time": query_of(postback)["click_time"],
        "user_completed_at": query_of(postback)["conversion_time"],
        "is_reward_sent": "false",
        "sequence_number": "",  # a single-event offer
        "partner_id": str(partner.pk),
        "partner_name": partner.name,
        "offer_advertiser_name": offer.advertiser,
        "pub_click_id": "",
        **{f"pub_sub_{n}": "" for n in range(1, 16)},
        "cnv_event_id": event.code,
        "cnv_conversion_id": f"T {AWKWARD}",
        "cnv_amount": "",
        "cnv_user_id": "",
        "cnv_conversion_ip_address": "",
        **{f"cnv_sub_{n}": "" for n in range(1, 6)},
    }
    assert query_of(postback)["status_changed_at"].endswith("Z")
    # And the delivery is Delivered, its attempt keeping the URL it fetched
    wait_until(lambda: deliveries_of(conversion).get().state == State.DELIVERED)
    [attempt] = CallbackAttempt.objects.filter(delivery=delivery)
    assert urlsplit(attempt.url).query == raw_query
    assert (delivery.kind, attempt.response_status) == (Kind.POSTBACK, 200)
    assert_audit_intact()


def test_global_and_event_postbacks_both_fire_beside_the_json_callback(
    celery_worker, receiver, partner_factory, conversion_factory
):
    # Given a partner with a JSON callback, a global postback and one for the event
    base = base_of(receiver)
    partner = partner_factory(
        callback_url=receiver.url,
        postback_url=f"{base}/global?click={{gk_click_id}}&status={{status}}",
        static_header_name="X-Api-Token",
        static_header_value="tok-123",
    )
    conversion = conversion_factory(click__partner=partner)
    PartnerEventPostback.objects.create(
        partner=partner,
        offer_event=conversion.offer_event,
        url_template=f"{base}/event?code={{event_code}}&n={{status_change_number}}",
    )
    other = conversion_factory(click__partner=partner)  # another event: no event postback

    # When both conversions succeed
    conversion_status_set(
        conversion_ids=[conversion.pk, other.pk], status=Status.SUCCESS, source=Source.ADMIN
    )

    # Then the receiver gets five requests: two JSON callbacks, two global postbacks and one
    # event postback, each with the static header
    received = receiver.wait_for(5)
    paths = sorted(urlsplit(callback.path).path for callback in received)
    assert paths == ["/callbacks/gokart"] * 2 + ["/event"] + ["/global"] * 2
    assert all(callback.headers["x-api-token"] == "tok-123" for callback in received)
    [event] = [callback for callback in received if callback.path.startswith("/event")]
    assert query_of(event) == {"code": conversion.offer_event.code, "n": "2"}
    assert [d.kind for d in deliveries_of(conversion)] == [
        Kind.CALLBACK,
        Kind.EVENT_POSTBACK,
        Kind.POSTBACK,
    ]
    assert [d.kind for d in deliveries_of(other)] == [Kind.CALLBACK, Kind.POSTBACK]
    wait_until(lambda: not CallbackDelivery.objects.exclude(state=State.DELIVERED).exists())
    assert_audit_intact()


def test_a_paused_partner_holds_its_postbacks_and_resume_sends_them_in_order(
    celery_worker, receiver, partner_factory, conversion_factory
):
    # Given a paused partner with a global postback
    partner = templated_partner(partner_factory, receiver, "id={callback_id}&status={status}")
    conversion = conversion_factory(click__partner=partner)
    partner_pause(partner_id=partner.pk, reason="Maintenance")

    # When the conversion succeeds, then is rejected
    for status in (Status.SUCCESS, Status.REJECTED):
        conversion_status_set(conversion_ids=[conversion.pk], status=status, source=Source.ADMIN)

    # Then both postbacks are held and nothing is sent
    assert [d.state for d in deliveries_of(conversion)] == [State.HELD, State.HELD]
    with pytest.raises(AssertionError):
        receiver.wait_for(1, timeout=1.0)

    # When the partner is resumed, they go out in the order of the changes
    partner_resume(partner_id=partner.pk)
    received = receiver.wait_for(2)
    assert [query_of(callback)["status"] for callback in received] == ["Success", "Rejected"]
    ids = [str(d.id) for d in deliveries_of(conversion)]
    assert [query_of(callback)["id"] for callback in received] == ids
    assert_audit_intact()


def test_replay_sends_a_postback_again_under_the_same_id(
    celery_worker, receiver, partner_factory, conversion_factory
):
    # Given a delivered postback
    partner = templated_partner(partner_factory, receiver, "id={callback_id}&c={conversion_id}")
    conversion = conversion_factory(click__partner=partner)
    succeed(conversion)
    [first] = receiver.wait_for(1)
    wait_until(lambda: deliveries_of(conversion).get().state == State.DELIVERED)

    # When the partner's deliveries are replayed
    replayed = callback_deliveries_replay(selection=ReplaySelection(partner_id=partner.pk))

    # Then the same URL, with the same callback id, is fetched again
    assert replayed == 1
    first_again, second = receiver.wait_for(2)
    assert second.path == first.path
    assert query_of(second)["id"] == str(deliveries_of(conversion).get().id)
    wait_until(lambda: deliveries_of(conversion).get().attempts == 2)
    assert_audit_intact()


def test_a_postback_whose_template_was_removed_fails_saying_so(
    celery_worker, receiver, partner_factory, conversion_factory
):
    # Given a partner whose global postback is removed while its postback is due
    partner = templated_partner(partner_factory, receiver, "c={conversion_id}")
    conversion = conversion_factory(click__partner=partner)
    partner_pause(partner_id=partner.pk, reason="Maintenance")
    succeed(conversion)
    type(partner).objects.filter(pk=partner.pk).update(postback_url="")

    # When it is resumed
    partner_resume(partner_id=partner.pk)

    # Then the postback fails at once with the reason, and nothing is sent
    wait_until(lambda: deliveries_of(conversion).get().state == State.FAILED)
    assert deliveries_of(conversion).get().last_error == "The partner has no global postback URL."
    assert receiver.received == []
    assert_audit_intact()
