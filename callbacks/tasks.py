"""Celery tasks that deliver partner callbacks: they take no model objects and call services.

``callback_deliveries_dispatch`` is queued after each commit that writes outbox rows;
``callback_deliveries_sweep`` runs from beat (CELERY_BEAT_SCHEDULE) and delivers whatever is
due that no task picked up: lost messages, a broker outage, expired leases, retries whose time
has come. Both only claim rows in the database, so running them twice is harmless.
"""

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def callback_deliveries_dispatch() -> int:
    """Deliver the callbacks that are due now; returns how many attempts were made."""
    from callbacks import delivery

    return delivery.callback_deliveries_deliver_due()


@shared_task(acks_late=True, ignore_result=True)
def callback_deliveries_sweep() -> int:
    """Periodic: deliver due callbacks that no dispatch task picked up."""
    from callbacks import delivery

    return delivery.callback_deliveries_deliver_due()
