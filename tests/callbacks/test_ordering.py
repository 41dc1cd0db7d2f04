"""A conversion's callbacks arrive in the order of its changes."""

import pytest
from django.utils import timezone

from callbacks.models import CallbackDelivery
from callbacks.tasks import callback_deliveries_sweep
from conversions.models import Source, Status
from conversions.services import conversion_status_set
from tests.callbacks.conftest import Answer, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def conversion(partner_factory, receiver, conversion_factory):
    partner = partner_factory(callback_url=receiver.url)
    return conversion_factory(click__partner=partner, status=Status.PENDING)


def change(conversion, status):
    conversion_status_set(conversion_ids=[conversion.pk], status=status, source=Source.ADMIN)


def statuses(callbacks):
    return [c.json["conversion"]["status"] for c in callbacks]


def test_a_rejection_waits_for_the_slow_success_it_revokes(
    celery_worker, receiver, conversion, callback_settings
):
    callback_settings.CALLBACK_READ_TIMEOUT = 5.0
    receiver.answer = lambda callback: Answer(
        delay=0.8 if callback.json["conversion"]["status"] == "Success" else 0
    )

    change(conversion, Status.SUCCESS)
    change(conversion, Status.REJECTED)

    success, rejected = receiver.wait_for(2)
    assert statuses([success, rejected]) == ["Success", "Rejected"]
    assert rejected.received_at >= success.answered_at
    assert [c.json["conversion"]["statusChangeNumber"] for c in (success, rejected)] == [2, 3]


def test_a_later_callback_waits_while_an_earlier_one_is_retried(
    celery_worker, receiver, conversion
):
    failures = ["Success"]
    receiver.answer = lambda callback: Answer(
        status=500 if failures and statuses([callback]) == [failures.pop()] else 200
    )
    change(conversion, Status.SUCCESS)
    success = CallbackDelivery.objects.get(conversion=conversion)
    wait_until(lambda: CallbackDelivery.objects.get(pk=success.pk).attempts == 1)
    wait_until(lambda: CallbackDelivery.objects.get(pk=success.pk).lease_expires_at is None)

    change(conversion, Status.REJECTED)
    # A sweep (run here, synchronously) finds nothing it may send: the Rejected is held back.
    assert callback_deliveries_sweep.apply().get() == 0
    assert statuses(receiver.received) == ["Success"]

    CallbackDelivery.objects.filter(pk=success.pk).update(next_attempt_at=timezone.now())
    callback_deliveries_sweep.delay()

    assert statuses(receiver.wait_for(3)) == ["Success", "Success", "Rejected"]


def test_when_an_earlier_callback_fails_the_later_ones_proceed(celery_worker, receiver, conversion):
    receiver.answer = lambda callback: Answer(
        status=410 if statuses([callback]) == ["Success"] else 200
    )

    change(conversion, Status.SUCCESS)
    change(conversion, Status.REJECTED)

    assert statuses(receiver.wait_for(2)) == ["Success", "Rejected"]
    wait_until(
        lambda: (
            sorted(
                CallbackDelivery.objects.filter(conversion=conversion).values_list(
                    "sequence_number", "state"
                )
            )
            == [(2, "failed"), (3, "delivered")]
        )
    )
