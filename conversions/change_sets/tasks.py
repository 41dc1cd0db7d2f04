"""Celery tasks of the change-set engine: each takes a job id and calls its worker-side service
(idempotent). ``services`` queues them; they never import ``services``.

Their names are the ones they had under ``conversions.imports.tasks``, kept explicit so that a
message queued before a deploy is still understood after it (and the import queue's routing,
``gokart.celery.task_route``, still matches).
"""

from celery import shared_task

from conversions.change_sets import applying, checking, dry_run, recovery
from conversions.models import ImportJob

_NAMES = "conversions.imports.tasks"


@shared_task(acks_late=True, name=f"{_NAMES}.import_job_validate_task")
def import_job_validate_task(import_job_id: int) -> None:
    """Validate an uploaded job's file (a dry run)."""
    job = ImportJob.objects.filter(pk=import_job_id).first()
    if job is not None:
        checking.import_job_validate(import_job=job)


@shared_task(acks_late=True, name=f"{_NAMES}.import_job_dry_run_task")
def import_job_dry_run_task(import_job_id: int) -> None:
    """Check a job and close it as a dry run (nothing to confirm)."""
    job = ImportJob.objects.filter(pk=import_job_id).first()
    if job is not None:
        dry_run.import_job_dry_run(import_job=job)


@shared_task(acks_late=True, name=f"{_NAMES}.import_job_apply_task")
def import_job_apply_task(import_job_id: int) -> None:
    """Apply a confirmed job (all or nothing)."""
    job = ImportJob.objects.filter(pk=import_job_id).first()
    if job is not None:
        applying.import_job_apply(import_job=job)


@shared_task(acks_late=True, name=f"{_NAMES}.import_jobs_fail_stale_task")
def import_jobs_fail_stale_task() -> int:
    """Periodic: fail the applies, and queue again the validations, whose worker died."""
    return recovery.import_jobs_fail_stale(
        validation_queue=import_job_validate_task.delay_on_commit
    )


@shared_task(acks_late=True, name=f"{_NAMES}.import_jobs_expire_unconfirmed_task")
def import_jobs_expire_unconfirmed_task() -> int:
    """Periodic: drop the checked rows of validated jobs nobody confirmed in time."""
    return recovery.import_jobs_expire_unconfirmed()
