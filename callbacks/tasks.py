"""Celery tasks that deliver partner callbacks: they take no model objects and call the loop.

``callback_deliveries_dispatch`` is queued after each commit that writes outbox rows
(``callback_dispatch_queue``); ``callback_deliveries_sweep`` runs from beat
(CELERY_BEAT_SCHEDULE) and delivers whatever is due that no task picked up: lost messages, a
broker outage, expired leases, retries whose time has come. Both only claim rows in the
database, so running them twice is harmless.
"""

import logging

from celery import shared_task

from callbacks.delivery import callback_deliveries_deliver_due

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def callback_deliveries_dispatch() -> int:
    """Deliver the callbacks that are due now; returns how many attempts were made."""
    return callback_deliveries_deliver_due(on_backlog=callback_dispatch_queue)


@shared_task(acks_late=True, ignore_result=True)
def callback_deliveries_sweep() -> int:
    """Periodic: deliver due callbacks that no dispatch task picked up."""
    return callback_deliveries_deliver_due(on_backlog=callback_dispatch_queue)


def callback_dispatch_queue() -> None:
    """Queue one dispatch task. If the message is lost (broker down), the periodic sweep finds
    the outbox rows anyway: a lost message delays a callback, it never loses one."""
    try:
        callback_deliveries_dispatch.delay()
    except Exception:  # noqa: BLE001 -- the sweep picks the rows up
        logger.warning("Could not queue a callback dispatch; the sweep will deliver", exc_info=True)
