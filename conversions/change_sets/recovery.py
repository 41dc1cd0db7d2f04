"""The periodic checks of import jobs: work a dead worker left, and previews nobody confirmed.

Both run in a worker (``tasks``) and from ``services``; neither queues a task itself: a
validation to start again is handed to ``validation_queue`` (the caller queues it after commit).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from conversions.change_sets import job_state
from conversions.change_sets.applying import import_job_fail_stale
from conversions.change_sets.tables import StagingTables, staging_drop
from conversions.models import ImportJob

State = ImportJob.State


def import_jobs_fail_stale(*, validation_queue: Callable[[int], object]) -> int:
    """Mark failed the jobs left ``applying`` by a worker that died, and hand the validations
    it left back to ``validation_queue(job id)``; returns how many jobs were found.

    A job is stale when no session holds its advisory lock.
    """
    jobs = ImportJob.objects.filter(state__in=[State.VALIDATING, State.APPLYING])
    found = 0
    for job_id in jobs.values_list("pk", flat=True):
        with job_state.job_lock(job_id) as acquired:
            if not acquired:
                continue
            job = ImportJob.objects.get(pk=job_id)
            if job.state == State.APPLYING:
                import_job_fail_stale(job)
            elif job.state == State.VALIDATING:
                job_state.job_update(job, state=State.UPLOADED)
                validation_queue(job.pk)
            else:
                continue
            found += 1
    return found


def import_jobs_expire_unconfirmed(*, now: datetime | None = None) -> int:
    """Drop the checked rows of the jobs validated but not confirmed within
    ``IMPORT_CONFIRM_WITHIN_HOURS`` (their staging table holds a row per conversion of the
    file), and mark them failed: Retry checks the file again. Returns how many. Run
    periodically."""
    hours = settings.IMPORT_CONFIRM_WITHIN_HOURS
    cutoff = (now or timezone.now()) - timedelta(hours=hours)
    expired = 0
    stale = ImportJob.objects.filter(state=State.VALIDATED, validation_finished_at__lt=cutoff)
    for job_id in stale.values_list("pk", flat=True):
        with transaction.atomic():
            # The job's row lock orders this against a confirmation (which takes it too).
            job = ImportJob.objects.select_for_update().get(pk=job_id)
            if job.state != State.VALIDATED:
                continue
            staging_drop(StagingTables(job.pk))
            job_state.job_fail(
                job,
                f"This import was not confirmed within {hours:,} hours of its check, so its "
                "checked rows were dropped. Nothing was changed. Use Retry to check the file "
                "again, then confirm it.",
            )
            expired += 1
    return expired
