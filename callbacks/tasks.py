"""Celery tasks that deliver partner callbacks: they take no model objects and call the loop.

``callback_deliveries_dispatch`` is queued after each commit that writes outbox rows
(``callback_dispatch_queue``); ``callback_deliveries_sweep`` runs from beat
(CELERY_BEAT_SCHEDULE) and delivers whatever is due that no task picked up: lost messages, a
broker outage, expired leases, retries whose time has come. Both only claim rows in the
database, so running them twice is harmless.

Coalescing: at 800 postbacks/s each one queueing its own dispatch message cost intake a
third of its throughput (bench/postback.py), for nothing: one dispatch claims until nothing is
due. So a queued dispatch that has not started yet stands for all commits after it: queueing
sets a Redis key (``SET NX PX CALLBACK_DISPATCH_COALESCE_MS``) and is skipped while the key
exists; the dispatch deletes the key when it starts, before it claims, so a callback owed
while a dispatch runs queues the next one at once (it is never left for the sweep). The key's
expiry bounds the damage of a lost message (a starting worker clears it too: it may follow a
purge or a crash); the sweep stays the backstop. Without a Redis
broker (the development filesystem broker) every commit queues its own dispatch, as before.
"""

from __future__ import annotations

import logging
from functools import cache

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings

from callbacks.broker import redis_client
from callbacks.delivery import callback_deliveries_deliver_due
from callbacks.dispatch import callback_dispatch_register
from callbacks.replay import ReplaySelection, callback_deliveries_replay

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def callback_deliveries_dispatch() -> int:
    """Deliver the callbacks that are due now; returns how many attempts were made."""
    callback_dispatch_mark_clear()
    return callback_deliveries_deliver_due(on_backlog=callback_dispatch_queue)


@shared_task(acks_late=True, ignore_result=True)
def callback_deliveries_sweep() -> int:
    """Periodic: deliver due callbacks that no dispatch task picked up."""
    return callback_deliveries_deliver_due(on_backlog=callback_dispatch_queue)


@cache
def _queued_key() -> str:
    return f"gokart:callback-dispatch-queued:{settings.CELERY_TASK_DEFAULT_QUEUE}"


def _queued_mark_set() -> bool:
    """True when this caller should queue a dispatch (no queued one is waiting to start)."""
    client = redis_client()
    if client is None:
        return True
    try:
        return bool(
            client.set(_queued_key(), b"1", nx=True, px=settings.CALLBACK_DISPATCH_COALESCE_MS)
        )
    except Exception:  # noqa: BLE001 -- Redis trouble: queue anyway (or the sweep delivers)
        return True


@worker_ready.connect
def _dispatch_mark_clear_on_start(**_: object) -> None:
    # A starting worker may follow a purge or a crash that lost the queued dispatch.
    callback_dispatch_mark_clear()


def callback_dispatch_mark_clear() -> None:
    """Forget that a dispatch is queued: as a dispatch starts, and when the queue was purged
    (the mark would skip the next commits' dispatches until it expires)."""
    client = redis_client()
    if client is None:
        return
    try:
        client.delete(_queued_key())
    except Exception:  # noqa: BLE001 -- the key expires by itself
        logger.warning("Could not clear the callback dispatch mark", exc_info=True)


def callback_dispatch_queue() -> None:
    """Queue one dispatch task, unless one is queued and has not started (see the module
    docstring). If the message is lost (broker down), the periodic sweep finds the outbox rows
    anyway: a lost message delays a callback, it never loses one."""
    if not _queued_mark_set():
        return
    try:
        callback_deliveries_dispatch.delay()
    except Exception:  # noqa: BLE001 -- the sweep picks the rows up
        callback_dispatch_mark_clear()
        logger.warning("Could not queue a callback dispatch; the sweep will deliver", exc_info=True)


@shared_task(acks_late=True, ignore_result=True)
def callback_deliveries_replay_run(selection: dict[str, str], username: str) -> int:
    """Replay the callbacks a selection names (``ReplaySelection.to_params()``)."""
    return callback_deliveries_replay(
        selection=ReplaySelection.from_params(selection), username=username
    )


# Everything that owes callbacks queues this dispatch through ``callbacks.dispatch``.
callback_dispatch_register(callback_dispatch_queue)
