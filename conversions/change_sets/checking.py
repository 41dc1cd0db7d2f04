"""The worker's check of a job (its "validation"): a dry run that has the job's source stage its
change set (a file's rows: ``conversions.imports.staging``; a revert: the reverted job's audit
rows, ``reverting``), then fills the summary with the money the change set moves and whether
it needs approval, changing no conversion (see the state machine in ``services``)."""

from __future__ import annotations

import time
from typing import Any

from django.db import transaction

from conversions.change_sets import change_list, job_state, reverting
from conversions.change_sets.approval import approval_lock, change_set_approval_reason
from conversions.change_sets.summary import ImportSummary
from conversions.change_sets.tables import StagingTables, staging_drop
from conversions.imports.reading.types import UnusableFile
from conversions.imports.staging import file_job_stage
from conversions.imports.upload_staging import upload_job_stage
from conversions.models import ImportJob

State = ImportJob.State


def import_job_validate(*, import_job: ImportJob) -> ImportJob:
    """Validate the job's file (a dry run: no conversion changes) and fill its summary.

    Idempotent: a job already past validation is returned as it is; a validation that was
    cut short (its worker died) starts again.
    """
    with job_state.job_lock(import_job.pk) as acquired:
        import_job.refresh_from_db()
        if not acquired or import_job.state not in (State.UPLOADED, State.VALIDATING):
            return import_job
        _validate(import_job)
    return import_job


def _validate(import_job: ImportJob) -> None:
    started = time.monotonic()
    job_state.job_start(
        import_job, State.VALIDATING, progress_total=import_job.size_bytes, summary={}
    )
    progress = job_state.ProgressWriter(import_job.pk)
    tables = StagingTables(import_job.pk)
    try:
        with transaction.atomic():
            job_state.jit_off()
            if import_job.kind == ImportJob.Kind.REVERT:
                summary, report = _revert_checked(import_job, tables)
            elif import_job.kind == ImportJob.Kind.UPLOAD:
                summary, report = upload_job_stage(import_job, tables, progress)
            else:
                summary, report = file_job_stage(import_job, tables, progress)
            money = change_list.staged_money(tables)
            approval_lock(import_job.user)
            reason = change_set_approval_reason(
                user=import_job.user,
                conversions=summary.will_change_total,
                money=money,
                import_job=import_job,
            )
            if summary.staged == 0:
                staging_drop(tables)
                state, message = State.INVALID, _nothing_to_apply(import_job, summary)
            else:
                staging_drop(tables, keep_changes=True)
                state, message = State.VALIDATED, ""
            summary = summary.replace(
                money=money.to_json(), validate_seconds=round(time.monotonic() - started, 2)
            )
            job_state.job_finish(
                import_job,
                state,
                summary=summary.to_json(),
                error_message=message,
                error_report=report,
                progress_done=import_job.progress_total,
                approval_required=bool(reason),
                approval_reason=reason[:500],
            )
    except UnusableFile as error:
        job_state.job_finish(import_job, State.INVALID, error_message=error.message, summary={})
    except Exception as error:
        job_state.job_fail_unexpected(
            import_job,
            error,
            step="Validation of",
            message="Checking the file stopped on an unexpected error ({error}). Nothing was "
            "changed. Use Retry to check it again.",
        )
    finally:
        progress.close()


def _revert_checked(import_job: ImportJob, tables: StagingTables) -> tuple[ImportSummary, Any]:
    """The change set that puts back what the reverted job changed."""
    assert import_job.reverts is not None  # a revert job always names its job
    return reverting.revert_stage(tables, reverted=import_job.reverts), ""


def _nothing_to_apply(import_job: ImportJob, summary: ImportSummary) -> str:
    if import_job.kind == ImportJob.Kind.REVERT:
        return (
            f"Nothing to revert: each of the {summary.rows:,} conversions that job changed has "
            "changed since, and is left as it is."
        )
    if import_job.kind == ImportJob.Kind.UPLOAD:
        return (
            f"None of the {summary.rows:,} rows can be recorded "
            f"({summary.not_found:,} not found, {summary.invalid:,} invalid, "
            f"{summary.conflicting:,} already recorded). Download the rejected rows to see "
            "why, fix the file and upload it again."
        )
    return (
        f"None of the {summary.rows:,} rows can be applied "
        f"({summary.not_found:,} not found, {summary.invalid:,} invalid, "
        f"{summary.conflicting:,} conflicting). Download the rejected rows to "
        "see why, fix the file and upload it again."
    )
