"""Placeholder: the bulk-import issue implements these."""

from celery import shared_task


@shared_task(acks_late=True)
def import_job_validate_task(import_job_id: int) -> None:
    raise NotImplementedError


@shared_task(acks_late=True)
def import_job_apply_task(import_job_id: int) -> None:
    raise NotImplementedError
