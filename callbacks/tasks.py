from celery import shared_task


@shared_task(acks_late=True)
def callback_deliveries_dispatch() -> None:
    """Placeholder: delivery is implemented by the callbacks issue."""
