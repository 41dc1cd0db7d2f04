"""Callback delivery end to end: a status change, a real Celery worker, a real receiver."""

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from callbacks.models import CallbackAttempt, CallbackDelivery
from callbacks.rotation import partner_signing_secret_rotate
from conversions.models import Source, Status
from conversions.services import conversion_status_set
from tests.callbacks.conftest import Answer, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def partner(partner_factory, receiver):
    return partner_factory(callback_url=receiver.url)


def delivery_of(conversion, sequence_number=2):
    return CallbackDelivery.objects.get(conversion=conversion, sequence_number=sequence_number)


def test_status_change_is_delivered_signed_with_the_public_payload(
    celery_worker, receiver, partner, conversion_factory
):
    conversion = conversion_factory(
        click__partner=partner, click__sub_id="user-42", status=Status.PENDING
    )

    conversion_status_set(
        conversion_ids=[conversion.pk], status=Status.SUCCESS, source=Source.ADMIN
    )

    [callback] = receiver.wait_for(1)
    payload = Webhook(partner.signing_secret).verify(callback.body, callback.headers)
    delivery = delivery_of(conversion)
    assert payload["id"] == str(delivery.id) == callback.headers["webhook-id"]
    assert payload["sentAt"].endswith("Z")
    conversion_fields = payload["conversion"]
    assert conversion_fields["createdAt"] == conversion_fields["userCompletedAt"]
    assert conversion_fields == {
        "status": "Success",
        "rejectionReason": None,
        "userCompletedAt": conversion_fields["createdAt"],
        "isRewardSent": True,
        "viewId": None,
        "clickId": conversion.click.gk_click_id,
        "conversionId": conversion.pk,
        "offerId": conversion.offer_id,
        "offerName": conversion.offer.name,
        "offerAdvertiserId": None,
        "offerEventId": conversion.offer_event_id,
        "offerAdvertiserName": "Acme Games",
        "offerCategoryId": None,
        "offerCategoryName": None,
        "offerCountryId": None,
        "offerCountryCode2": None,
        "offerCountryCode3": None,
        "eventId": conversion.offer_event_id,
        "eventName": conversion.offer_event.name,
        "rewardPoints": None,
        "revenue": "2.0000",
        "pubMemberId": "user-42",
        "pubClickId": None,
        "pubSessionId": None,
        "pubGender": None,
        "pubAge": None,
        "pubGeoCountry": None,
        "pubGeoState": None,
        "pubPostalCode": None,
        **{f"pubSub{n}": None for n in range(1, 16)},
        "pubDevice": None,
        "trackSysEventId": conversion.offer_event.code,
        "trackSysConversionId": conversion.transaction_id,
        "trackSysConversionAmount": None,
        "trackSysConversionIpAddress": None,
        "trackSysConversionEmail": None,
        "trackSysConversionUserId": None,
        **{f"trackSysConversionSub{n}": None for n in range(1, 6)},
        "sequenceNumber": 2,  # the status-change counter: what partners order by
        "partnerId": partner.pk,
        "partnerName": partner.name,
        "createdAt": conversion_fields["createdAt"],
        "clickTime": conversion_fields["clickTime"],
        "payout": "1.5000",
        "currency": "USD",
        "pubSub": "user-42",
        "statusChangeNumber": 2,
    }
    assert callback.headers["content-type"] == "application/json"
    wait_until(lambda: delivery_of(conversion).state == CallbackDelivery.State.DELIVERED)
    delivery = delivery_of(conversion)
    assert delivery.attempts == 1
    assert delivery.last_response_status == 200
    assert delivery.payload["conversion"]["status"] == "Success"
    [attempt] = CallbackAttempt.objects.filter(delivery=delivery)
    assert (attempt.number, attempt.response_status, attempt.response_body) == (1, 200, "ok")
    assert attempt.duration_ms is not None


def test_a_wrong_secret_does_not_verify(celery_worker, receiver, partner, conversion_factory):
    conversion = conversion_factory(click__partner=partner)

    conversion_status_set(
        conversion_ids=[conversion.pk], status=Status.SUCCESS, source=Source.ADMIN
    )

    [callback] = receiver.wait_for(1)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 44).verify(callback.body, callback.headers)


def test_rejection_carries_its_reason(celery_worker, receiver, partner, conversion_factory):
    conversion = conversion_factory(click__partner=partner, status=Status.SUCCESS)

    conversion_status_set(
        conversion_ids=[conversion.pk],
        status=Status.REJECTED,
        source=Source.ADMIN,
        reason="Fraud review",
    )

    [callback] = receiver.wait_for(1)
    assert callback.json["conversion"]["status"] == "Rejected"
    assert callback.json["conversion"]["rejectionReason"] == "Fraud review"


def test_during_a_rotation_both_secrets_sign(celery_worker, receiver, partner, conversion_factory):
    old_secret = partner.signing_secret
    new_secret = partner_signing_secret_rotate(partner=partner)
    conversion = conversion_factory(click__partner=partner)

    conversion_status_set(
        conversion_ids=[conversion.pk], status=Status.SUCCESS, source=Source.ADMIN
    )

    [callback] = receiver.wait_for(1)
    assert new_secret != old_secret
    assert len(callback.headers["webhook-signature"].split(" ")) == 2
    Webhook(new_secret).verify(callback.body, callback.headers)
    Webhook(old_secret).verify(callback.body, callback.headers)


@pytest.mark.parametrize(
    ("pending_enabled", "rejected_enabled", "expected_statuses"),
    [
        (True, True, ["Pending", "Rejected", "Success"]),
        (False, True, ["Rejected", "Success"]),
        (True, False, ["Pending", "Success"]),
        (False, False, ["Success"]),
    ],
)
def test_pending_and_rejected_callbacks_follow_the_partner_toggles(
    celery_worker,
    receiver,
    partner_factory,
    conversion_factory,
    pending_enabled,
    rejected_enabled,
    expected_statuses,
):
    partner = partner_factory(
        callback_url=receiver.url,
        pending_callbacks_enabled=pending_enabled,
        rejected_callbacks_enabled=rejected_enabled,
    )
    pending, rejected = conversion_factory.create_batch(
        2, click__partner=partner, status=Status.SUCCESS
    )
    success = conversion_factory(click__partner=partner, status=Status.PENDING)

    for conversion, status in [
        (pending, Status.PENDING),
        (rejected, Status.REJECTED),
        (success, Status.SUCCESS),
    ]:
        conversion_status_set(conversion_ids=[conversion.pk], status=status, source=Source.ADMIN)

    received = receiver.wait_for(len(expected_statuses))
    assert sorted(c.json["conversion"]["status"] for c in received) == expected_statuses
    assert CallbackDelivery.objects.count() == len(expected_statuses)


def test_no_callback_for_a_no_op_change(celery_worker, receiver, partner, conversion_factory):
    unchanged = conversion_factory(click__partner=partner, status=Status.SUCCESS)
    changed = conversion_factory(click__partner=partner, status=Status.PENDING)

    conversion_status_set(conversion_ids=[unchanged.pk], status=Status.SUCCESS, source=Source.ADMIN)
    conversion_status_set(conversion_ids=[changed.pk], status=Status.SUCCESS, source=Source.ADMIN)

    # The second change's callback arriving shows the first one's would have arrived by now.
    [callback] = receiver.wait_for(1)
    assert callback.json["conversion"]["conversionId"] == changed.pk
    assert not CallbackDelivery.objects.filter(conversion=unchanged).exists()


def test_a_partner_without_callback_url_gets_no_delivery(partner_factory, conversion_factory):
    conversion = conversion_factory(click__partner=partner_factory(callback_url=""))

    conversion_status_set(
        conversion_ids=[conversion.pk], status=Status.SUCCESS, source=Source.ADMIN
    )

    assert not CallbackDelivery.objects.exists()


def test_a_bulk_change_writes_its_deliveries_in_the_same_statement(
    partner, conversion_factory, django_assert_max_num_queries
):
    conversions = conversion_factory.create_batch(40, click__partner=partner)

    with django_assert_max_num_queries(3):
        result = conversion_status_set(
            conversion_ids=[c.pk for c in conversions], status=Status.SUCCESS, source=Source.ADMIN
        )

    assert result.callbacks == 40
    assert CallbackDelivery.objects.filter(state="pending", sequence_number=2).count() == 40
    # Each delivery carries its own change's audit row (no database constraint checks this).
    pairs = CallbackDelivery.objects.values_list(
        "conversion_id",
        "sequence_number",
        "status_change__conversion_id",
        "status_change__sequence_number",
        "status_change__new_status",
    )
    assert sorted(pairs) == sorted((c.pk, 2, c.pk, 2, Status.SUCCESS) for c in conversions)


def test_answers_are_kept_per_attempt(celery_worker, receiver, partner, conversion_factory):
    receiver.answer = lambda callback: Answer(status=202, body=b"x" * 5000)
    conversion = conversion_factory(click__partner=partner)

    conversion_status_set(
        conversion_ids=[conversion.pk], status=Status.SUCCESS, source=Source.ADMIN
    )

    receiver.wait_for(1)
    wait_until(lambda: delivery_of(conversion).state == CallbackDelivery.State.DELIVERED)
    attempt = CallbackAttempt.objects.get(delivery=delivery_of(conversion))
    assert attempt.response_status == 202
    assert attempt.response_body == "x" * 2048
