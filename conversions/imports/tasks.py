"""Celery tasks of bulk imports: each takes a job id and calls its service (idempotent)."""

from celery import shared_task

from conversions.models import ImportJob


@shared_task(acks_late=True)
def import_job_validate_task(import_job_id: int) -> None:
    """Validate an uploaded job's file (a dry run)."""
    from conversions.imports import services

    job = ImportJob.objects.filter(pk=import_job_id).first()
    if job is not None:
        services.import_job_validate(import_job=job)


@shared_task(acks_late=True)
def import_job_apply_task(import_job_id: int) -> None:
    """Apply a confirmed job (all or nothing)."""
    from conversions.imports import services

    job = ImportJob.objects.filter(pk=import_job_id).first()
    if job is not None:
        services.import_job_apply(import_job=job)


@shared_task(acks_late=True)
def import_jobs_fail_stale_task() -> int:
    """Periodic: fail the applies, and restart the validations, whose worker died."""
    from conversions.imports import services

    return services.import_jobs_fail_stale()


@shared_task(acks_late=True)
def import_jobs_expire_unconfirmed_task() -> int:
    """Periodic: drop the checked rows of validated jobs nobody confirmed in time."""
    from conversions.imports import services

    return services.import_jobs_expire_unconfirmed()
