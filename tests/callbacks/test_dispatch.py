"""Coalesced dispatch: commits in a burst queue one dispatch while it waits to start, and a
callback owed while a dispatch runs still goes out at once (not at the next sweep)."""

import itertools
import time

import pytest

from callbacks import dispatch, tasks
from callbacks.models import CallbackDelivery
from conversions.models import Source, Status
from conversions.services import conversion_status_set
from tests.callbacks.conftest import wait_until

State = CallbackDelivery.State


@pytest.fixture
def queued(monkeypatch):
    """Count the dispatch messages queued, without sending them."""
    messages = []
    monkeypatch.setattr(tasks.callback_deliveries_dispatch, "delay", lambda: messages.append(1))
    tasks.redis_client().delete(tasks._queued_key())
    yield messages
    tasks.redis_client().delete(tasks._queued_key())


def test_a_burst_of_commits_queues_one_dispatch_until_it_starts(queued):
    for _ in range(50):
        tasks.callback_dispatch_queue()
    assert len(queued) == 1

    tasks.callback_dispatch_mark_clear()  # what the dispatch does as it starts
    tasks.callback_dispatch_queue()

    assert len(queued) == 2


def test_the_mark_expires_so_a_lost_message_delays_nothing_for_long(queued, settings):
    settings.CALLBACK_DISPATCH_COALESCE_MS = 100
    tasks.callback_dispatch_queue()
    time.sleep(0.15)

    tasks.callback_dispatch_queue()

    assert len(queued) == 2


@pytest.mark.django_db(transaction=True)
def test_changes_committed_one_by_one_are_all_delivered_without_the_sweep(
    celery_worker, receiver, partner_factory, conversion_factory
):
    partner = partner_factory(callback_url=receiver.url)
    conversions = conversion_factory.create_batch(30, click__partner=partner)

    started = time.monotonic()
    for conversion in conversions:
        conversion_status_set(
            conversion_ids=[conversion.pk], status=Status.SUCCESS, source=Source.ADMIN
        )
        time.sleep(0.01)

    receiver.wait_for(30, timeout=10)
    assert time.monotonic() - started < 10
    wait_until(lambda: CallbackDelivery.objects.filter(state=State.DELIVERED).count() == 30)


@pytest.mark.django_db(transaction=True)
def test_deferred_a_burst_of_commits_queues_from_one_thread_and_every_callback_goes_out(
    celery_worker, receiver, partner_factory, conversion_factory, settings, monkeypatch
):
    """The tracking tier's mode: commits wake this process's dispatch thread, which queues at
    once, then at most once per interval; callbacks owed meanwhile still go out without the
    sweep."""
    settings.CALLBACK_DISPATCH_DEFER_MS = 200
    queued = []
    queue = tasks.callback_dispatch_queue
    monkeypatch.setattr(dispatch, "_queue", lambda: (queued.append(time.monotonic()), queue()))
    partner = partner_factory(callback_url=receiver.url)
    conversions = conversion_factory.create_batch(40, click__partner=partner)

    started = time.monotonic()
    for conversion in conversions:
        conversion_status_set(
            conversion_ids=[conversion.pk], status=Status.SUCCESS, source=Source.ADMIN
        )

    receiver.wait_for(40, timeout=10)
    assert time.monotonic() - started < 10
    wait_until(lambda: CallbackDelivery.objects.filter(state=State.DELIVERED).count() == 40)
    assert 1 <= len(queued) < 40
    assert all(later - earlier >= 0.2 for earlier, later in itertools.pairwise(queued))
    assert receiver.ids() and len(set(receiver.ids())) == 40
