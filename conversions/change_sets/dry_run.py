"""A dry run: a job checked and closed as ``checked``, so that no one can confirm it later.

``import_job_check_only`` closes a job already validated (the ``import_statuses --dry-run``
command checks first, then closes). ``import_job_dry_run`` does both in one transaction, for a
worker (``tasks.import_job_dry_run_task``: the Management API's ``dry_run``): the job is never
seen ``validated``, so nothing can confirm it between the check and the close. Its progress is
not shown meanwhile (the progress writer only writes when the work owns its transaction).
Either way the change set is kept as the job's per-row outcomes (``outcomes``).
"""

from __future__ import annotations

from django.db import transaction

from conversions.change_sets.checking import import_job_validate
from conversions.change_sets.outcomes import change_set_outcomes_keep
from conversions.change_sets.tables import StagingTables, staging_drop
from conversions.models import ImportJob


def import_job_check_only(*, import_job: ImportJob) -> ImportJob:
    """Close a validated job as a dry run (``checked``): its checked rows are dropped (the
    change set kept only as its per-row outcomes), and no one can confirm it later. A job in
    another state is returned as it is."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=import_job.pk)
        if job.state == ImportJob.State.VALIDATED:
            tables = StagingTables(job.pk)
            change_set_outcomes_keep(tables)
            staging_drop(tables)
            job.state = ImportJob.State.CHECKED
            job.save(update_fields=["state"])
    import_job.refresh_from_db()
    return import_job


def import_job_dry_run(*, import_job: ImportJob) -> ImportJob:
    """Check the job and close it as ``checked`` at once (one transaction). Idempotent: a job
    past its check is returned as it is."""
    with transaction.atomic():
        import_job_validate(import_job=import_job)
        return import_job_check_only(import_job=import_job)
