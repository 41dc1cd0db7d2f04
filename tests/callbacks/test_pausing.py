"""A partner whose endpoint is down: paused automatically, nothing lost for a week, everything
delivered in each conversion's order on resume (real Celery worker, real receiver)."""

import time
from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from callbacks.models import CallbackAttempt, CallbackDelivery, Partner
from callbacks.pausing import partner_pause, partner_resume
from callbacks.tasks import callback_deliveries_sweep
from conversions.models import Source, Status
from conversions.services import conversion_status_set
from tests.audit import assert_audit_intact
from tests.callbacks.conftest import Answer, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

State = CallbackDelivery.State


def sweep_until(condition, timeout=30.0):
    """Run the periodic sweep (as beat would, but often) until ``condition`` holds."""

    def swept():
        callback_deliveries_sweep.delay()
        return condition()

    wait_until(swept, timeout=timeout, every=0.25)


@pytest.fixture
def fast_retries(settings):
    settings.CALLBACK_RETRY_FIRST_DELAY = 0.05
    settings.CALLBACK_RETRY_MAX_DELAY = 0.1
    settings.CALLBACK_RETRY_FOR = 60.0
    settings.CALLBACK_AUTO_PAUSE_AFTER = 0.5
    settings.CALLBACK_AUTO_PAUSE_MIN_ATTEMPTS = 10
    settings.ADMINS = [("Ops", "ops@example.com")]
    return settings


def test_a_partner_down_for_a_week_is_paused_loses_nothing_and_gets_everything_in_order(
    celery_worker, receiver, partner_factory, conversion_factory, fast_retries, mailoutbox
):
    # Given a partner whose endpoint answers 503 to everything
    partner = partner_factory(name="Reward Wall", callback_url=receiver.url)
    conversions = conversion_factory.create_batch(3, click__partner=partner)
    ids = [conversion.pk for conversion in conversions]
    down = True
    receiver.answer = lambda callback: Answer(status=503) if down else Answer()

    # When each conversion changes three times (Success, Rejected, Success)
    for status in (Status.SUCCESS, Status.REJECTED, Status.SUCCESS):
        conversion_status_set(conversion_ids=ids, status=status, source=Source.ADMIN)

    # Then after 10 failed attempts in a row over the pause time, the partner is paused
    sweep_until(lambda: Partner.objects.get(pk=partner.pk).paused_at is not None)
    wait_until(
        lambda: not CallbackDelivery.objects.filter(partner=partner, state=State.PENDING).exists()
    )
    partner.refresh_from_db()
    assert partner.failed_attempts_in_a_row >= 10
    assert "Every attempt failed since" in partner.pause_reason
    assert CallbackDelivery.objects.filter(partner=partner, state=State.HELD).count() == 9
    # And the admins are told
    wait_until(lambda: len(mailoutbox) == 1)
    assert "Callbacks to Reward Wall paused automatically" in mailoutbox[0].subject
    assert "9 due callbacks are held" in mailoutbox[0].body

    # When a week passes paused (simulated: the pause and the failures began 7 days ago)
    week = timedelta(days=7)
    Partner.objects.filter(pk=partner.pk).update(paused_at=F("paused_at") - week)
    CallbackDelivery.objects.filter(partner=partner).update(
        retrying_since=F("retrying_since") - week
    )
    attempts_before = CallbackAttempt.objects.count()
    for _ in range(4):
        callback_deliveries_sweep.delay()
    # Then nothing is attempted and nothing is Failed
    time.sleep(1.5)  # the sweeps ran meanwhile (the worker has three threads)
    assert CallbackAttempt.objects.count() == attempts_before
    assert not CallbackDelivery.objects.filter(state=State.FAILED).exists()

    # When the endpoint is back and an admin resumes the partner
    down = False
    received_before = len(receiver.received)
    assert partner_resume(partner_id=partner.pk) == 9

    # Then every held callback is delivered, each conversion's in the order of its changes
    wait_until(
        lambda: CallbackDelivery.objects.filter(partner=partner, state=State.DELIVERED).count() == 9
    )
    delivered = [c.json["conversion"] for c in receiver.received[received_before:]]
    for conversion_id in ids:
        sequence = [
            c["statusChangeNumber"] for c in delivered if c["conversionId"] == conversion_id
        ]
        assert sequence == sorted(sequence) and set(sequence) >= {2, 3, 4}
    assert not CallbackDelivery.objects.filter(state=State.FAILED).exists()
    # And the retry window was not used up by the week paused
    for delivery in CallbackDelivery.objects.filter(partner=partner):
        assert delivery.retrying_since is None
    assert_audit_intact()


def test_callbacks_owed_while_paused_are_held_then_sent_on_resume(
    celery_worker, receiver, partner_factory, conversion_factory
):
    partner = partner_factory(callback_url=receiver.url)
    conversion = conversion_factory(click__partner=partner)
    assert partner_pause(partner_id=partner.pk, reason="Partner's maintenance")

    conversion_status_set(
        conversion_ids=[conversion.pk], status=Status.SUCCESS, source=Source.ADMIN
    )
    callback_deliveries_sweep.delay()

    delivery = CallbackDelivery.objects.get(conversion=conversion)
    assert delivery.state == State.HELD
    assert receiver.received == []

    partner_resume(partner_id=partner.pk)

    [callback] = receiver.wait_for(1)
    assert callback.delivery_id == str(delivery.pk)
    wait_until(lambda: CallbackDelivery.objects.get(pk=delivery.pk).state == State.DELIVERED)
    partner.refresh_from_db()
    assert partner.paused_at is None and partner.pause_reason == ""
    assert_audit_intact()


def test_a_success_ends_the_run_of_failures(
    celery_worker, receiver, partner_factory, conversion_factory, fast_retries
):
    partner = partner_factory(callback_url=receiver.url)
    conversion = conversion_factory(click__partner=partner)
    answers = [Answer(status=500), Answer(status=500)]
    receiver.answer = lambda callback: answers.pop(0) if answers else Answer()

    conversion_status_set(
        conversion_ids=[conversion.pk], status=Status.SUCCESS, source=Source.ADMIN
    )

    sweep_until(
        lambda: CallbackDelivery.objects.get(conversion=conversion).state == State.DELIVERED
    )
    partner.refresh_from_db()
    assert partner.failed_attempts_in_a_row == 0
    assert partner.failing_since is None
    assert partner.paused_at is None
    assert timezone.now() - partner.created_at < timedelta(minutes=5)
