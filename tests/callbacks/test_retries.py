"""What a partner's answer does to a delivery: delivered, retried later, or failed at once."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.http import http_date

from callbacks.models import CallbackAttempt, CallbackDelivery
from callbacks.sending import retry_delay_seconds
from callbacks.services import callback_deliveries_resend
from callbacks.tasks import callback_deliveries_sweep
from conversions.models import Source, Status
from conversions.services import conversion_status_set
from tests.callbacks.conftest import Answer, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

PENDING, DELIVERED, FAILED = (
    CallbackDelivery.State.PENDING,
    CallbackDelivery.State.DELIVERED,
    CallbackDelivery.State.FAILED,
)


@pytest.fixture
def conversion(partner_factory, receiver, conversion_factory):
    partner = partner_factory(callback_url=receiver.url)
    return conversion_factory(click__partner=partner, status=Status.PENDING)


def approve(conversion):
    conversion_status_set(
        conversion_ids=[conversion.pk], status=Status.SUCCESS, source=Source.ADMIN
    )
    return CallbackDelivery.objects.get(conversion=conversion)


def settled(delivery, *, attempts):
    """Wait until the worker recorded the delivery's ``attempts``-th attempt; return it fresh."""
    wait_until(lambda: CallbackAttempt.objects.filter(delivery=delivery).count() >= attempts)
    wait_until(lambda: CallbackDelivery.objects.get(pk=delivery.pk).lease_expires_at is None)
    return CallbackDelivery.objects.get(pk=delivery.pk)


def make_due_and_sweep(delivery):
    """Jump to the retry time (instead of waiting for it) and let the periodic sweep run."""
    CallbackDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    callback_deliveries_sweep.delay()


def scripted(*answers):
    """Answer the callbacks in turn with these answers, then 200."""
    remaining = list(answers)
    return lambda callback: remaining.pop(0) if remaining else Answer()


def test_a_500_is_retried_about_two_minutes_later_then_delivered_with_the_same_id(
    celery_worker, receiver, conversion
):
    receiver.answer = scripted(Answer(status=500, body=b"database is down"))

    delivery = settled(approve(conversion), attempts=1)

    assert delivery.state == PENDING
    assert delivery.last_response_status == 500
    assert delivery.last_error == "HTTP 500 from the partner."
    wait = (delivery.next_attempt_at - delivery.retrying_since).total_seconds()
    assert 90 <= wait <= 150

    make_due_and_sweep(delivery)

    delivery = settled(delivery, attempts=2)
    assert delivery.state == DELIVERED
    assert delivery.attempts == 2
    first, second = receiver.wait_for(2)
    assert first.delivery_id == second.delivery_id == str(delivery.id)
    assert first.json["conversion"] == second.json["conversion"]
    assert list(
        CallbackAttempt.objects.filter(delivery=delivery).values_list(
            "number", "response_status", "response_body"
        )
    ) == [(1, 500, "database is down"), (2, 200, "ok")]


def test_a_410_fails_at_once_and_keeps_the_answer(celery_worker, receiver, conversion):
    receiver.answer = scripted(Answer(status=410, body=b"user deleted"))

    delivery = settled(approve(conversion), attempts=1)

    assert delivery.state == FAILED
    assert delivery.last_response_status == 410
    assert delivery.last_error == "HTTP 410 from the partner: not retried."
    assert CallbackAttempt.objects.get(delivery=delivery).response_body == "user deleted"


def test_a_redirect_is_not_followed_and_fails(celery_worker, receiver, conversion):
    receiver.answer = scripted(Answer(status=302, headers={"Location": "http://10.0.0.5/"}))

    delivery = settled(approve(conversion), attempts=1)

    assert delivery.state == FAILED
    assert delivery.last_error == (
        "HTTP 302 redirect to http://10.0.0.5/: redirects are not followed."
    )
    assert len(receiver.received) == 1


@pytest.mark.parametrize("retry_after", ["30", "date"])
def test_retry_after_is_honoured(celery_worker, receiver, conversion, retry_after):
    if retry_after == "date":
        retry_after = http_date((timezone.now() + timedelta(seconds=31)).timestamp())
    receiver.answer = scripted(Answer(status=429, headers={"Retry-After": retry_after}))

    delivery = settled(approve(conversion), attempts=1)

    assert delivery.state == PENDING
    assert delivery.last_response_status == 429
    wait = (delivery.next_attempt_at - delivery.retrying_since).total_seconds()
    assert 29 <= wait <= 31


def test_a_timeout_is_retried(celery_worker, receiver, conversion):
    receiver.answer = scripted(Answer(delay=1.5))

    delivery = settled(approve(conversion), attempts=1)

    assert delivery.state == PENDING
    assert delivery.last_error == "No answer within 1 s."
    assert delivery.last_response_status is None


def test_a_connection_error_is_retried(
    celery_worker, partner_factory, conversion_factory, closed_port
):
    partner = partner_factory(callback_url=f"http://127.0.0.1:{closed_port}/")
    conversion = conversion_factory(click__partner=partner, status=Status.PENDING)

    delivery = settled(approve(conversion), attempts=1)

    assert delivery.state == PENDING
    assert delivery.last_error == f"Connection refused by 127.0.0.1:{closed_port}."
    [attempt] = delivery.attempt_set.all()
    assert attempt.url == f"http://127.0.0.1:{closed_port}/"
    assert attempt.outcome == "retry"


def test_after_three_days_of_failures_the_delivery_fails(celery_worker, receiver, conversion):
    receiver.answer = lambda callback: Answer(status=503)
    delivery = settled(approve(conversion), attempts=1)
    CallbackDelivery.objects.filter(pk=delivery.pk).update(
        retrying_since=timezone.now() - timedelta(days=3, minutes=1)
    )

    make_due_and_sweep(delivery)

    delivery = settled(delivery, attempts=2)
    assert delivery.state == FAILED
    assert delivery.last_error == "HTTP 503 from the partner. Gave up after 2 attempts over 3 days."


def test_a_failed_delivery_resent_arrives_with_the_same_id(celery_worker, receiver, conversion):
    receiver.answer = scripted(Answer(status=404))
    delivery = settled(approve(conversion), attempts=1)
    assert delivery.state == FAILED

    assert callback_deliveries_resend(delivery_ids=[delivery.pk]) == 1

    delivery = settled(delivery, attempts=2)
    assert delivery.state == DELIVERED
    assert receiver.ids() == [str(delivery.pk)] * 2


def test_retry_waits_double_from_about_two_minutes():
    waits = []
    spent = 0.0
    for _ in range(6):
        wait = retry_delay_seconds(retrying_for=spent)
        waits.append(wait)
        spent += wait

    assert 90 <= waits[0] <= 150
    for before, after in zip(waits, waits[1:], strict=False):
        assert 1.2 < after / before < 3.4
    assert retry_delay_seconds(retrying_for=10 * 86400) <= 12 * 3600 * 1.25
