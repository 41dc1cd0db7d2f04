"""Celery tasks of the conversions app: thin wrappers that take ids and call services."""

from celery import shared_task

from conversions.change_sets.tasks import import_job_apply_task, import_job_validate_task

__all__ = [
    "conversion_tallies_compact",
    "conversions_pending_promote",
    "import_job_apply_task",
    "import_job_validate_task",
]


@shared_task(acks_late=True)
def conversions_pending_promote() -> int:
    """Promote Pending conversions whose offer's pending time has passed (periodic)."""
    from conversions import services

    return services.conversions_pending_promote()


@shared_task(acks_late=True)
def conversion_tallies_compact() -> int:
    """Fold the conversion tally's delta rows into one per key (periodic)."""
    from conversions import tally

    return tally.conversion_tallies_compact()
