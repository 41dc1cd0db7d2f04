"""The worker's validation of an import job: a dry run that stages the file's rows set-based
(or, for a revert, the reverted job's audit rows) and fills the summary, with the money the
change set moves and whether it needs approval, changing no conversion (see the state machine
in ``services``)."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from typing import Any

from django.core.files import File
from django.db import transaction

from conversions.change_sets.approval import approval_lock, change_set_approval_reason
from conversions.imports import change_set, staging, worker
from conversions.imports.reading.rows import file_rows
from conversions.imports.reading.types import Progress, UnusableFile
from conversions.imports.rows import Columns, StagedRow, columns_find, row_checker
from conversions.imports.summary import ImportSummary
from conversions.models import ImportJob

State = ImportJob.State


def import_job_validate(*, import_job: ImportJob) -> ImportJob:
    """Validate the job's file (a dry run: no conversion changes) and fill its summary.

    Idempotent: a job already past validation is returned as it is; a validation that was
    cut short (its worker died) starts again.
    """
    with worker.job_lock(import_job.pk) as acquired:
        import_job.refresh_from_db()
        if not acquired or import_job.state not in (State.UPLOADED, State.VALIDATING):
            return import_job
        _validate(import_job)
    return import_job


def _validate(import_job: ImportJob) -> None:
    started = time.monotonic()
    worker.job_start(import_job, State.VALIDATING, progress_total=import_job.size_bytes, summary={})
    progress = worker.ProgressWriter(import_job.pk)
    tables = staging.StagingTables(import_job.pk)
    try:
        with transaction.atomic():
            worker.jit_off()
            if import_job.kind == ImportJob.Kind.REVERT:
                summary, report = _revert_checked(import_job, tables)
            else:
                summary, report = _file_checked(import_job, tables, progress)
            money = change_set.staged_money(tables)
            approval_lock(import_job.user)
            reason = change_set_approval_reason(
                user=import_job.user,
                conversions=summary.will_change_total,
                money=money,
                import_job=import_job,
            )
            if summary.staged == 0:
                staging.staging_drop(tables)
                state, message = State.INVALID, _nothing_to_apply(import_job, summary)
            else:
                staging.staging_drop(tables, keep_changes=True)
                state, message = State.VALIDATED, ""
            summary = summary.replace(
                money=money.to_json(), validate_seconds=round(time.monotonic() - started, 2)
            )
            worker.job_finish(
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
        worker.job_finish(import_job, State.INVALID, error_message=error.message, summary={})
    except Exception as error:
        worker.job_fail_unexpected(
            import_job,
            error,
            step="Validation of",
            message="Checking the file stopped on an unexpected error ({error}). Nothing was "
            "changed. Use Retry to check it again.",
        )
    finally:
        progress.close()


def _file_checked(
    import_job: ImportJob, tables: staging.StagingTables, progress: Progress
) -> tuple[ImportSummary, Any]:
    """Stage the file's rows, resolve them to a change set; the summary and the report of
    rejected rows."""
    with worker.local_path(import_job.file) as path:
        columns, staged_rows = _rows_staged(path, import_job.file_format, progress)
        staging.staging_rows_create(tables)
        rows = staging.staging_rows_load(tables, staged_rows)
        if rows == 0:
            raise UnusableFile(
                "The file has a header row but no data rows. Add one row per "
                "conversion (gk_click_id and/or EventId, Status) and upload it again."
            )
    staging.staging_resolve(tables, rows=rows)
    summary = staging.staging_counts(tables).replace(
        columns=columns.headers, reader=import_job.file_format
    )
    return summary, _report_save(import_job, tables, columns.headers, summary)


def _revert_checked(
    import_job: ImportJob, tables: staging.StagingTables
) -> tuple[ImportSummary, Any]:
    """The change set that puts back what the reverted job changed."""
    assert import_job.reverts is not None  # a revert job always names its job
    return change_set.revert_stage(tables, reverted=import_job.reverts), ""


def _nothing_to_apply(import_job: ImportJob, summary: ImportSummary) -> str:
    if import_job.kind == ImportJob.Kind.REVERT:
        return (
            f"Nothing to revert: each of the {summary.rows:,} conversions that job changed has "
            "changed since, and is left as it is."
        )
    return (
        f"None of the {summary.rows:,} rows can be applied "
        f"({summary.not_found:,} not found, {summary.invalid:,} invalid, "
        f"{summary.conflicting:,} conflicting). Download the rejected rows to "
        "see why, fix the file and upload it again."
    )


def _rows_staged(
    path: str, file_format: str, progress: Progress
) -> tuple[Columns, Iterator[StagedRow]]:
    """The file's columns (from its header row) and its data rows, checked, lazily."""
    rows = file_rows(path, file_format, progress=progress)
    for _, cells in rows:
        if any(cell.strip() for cell in cells[:1000]):
            columns = columns_find(cells)
            break
    else:
        raise UnusableFile(
            "The file has no header row. Its first row must name the columns gk_click_id "
            "and/or EventId, Status, and optionally Reason."
        )

    def staged() -> Iterator[StagedRow]:
        check = row_checker(columns)
        for row_number, cells in rows:
            row = check(row_number, cells)
            if row is not None:
                yield row

    return columns, staged()


def _report_save(
    import_job: ImportJob,
    tables: staging.StagingTables,
    headers: dict[str, str],
    summary: ImportSummary,
) -> Any:
    if not summary.rejected_rows:
        return ""
    names = [
        headers.get("gk_click_id", "gk_click_id"),
        headers.get("event_id", "EventId"),
        headers.get("status", "Status"),
        headers.get("reason", "Reason"),
    ]
    with tempfile.TemporaryFile() as out:
        staging.staging_report_write(tables, out, names)
        out.seek(0)
        import_job.error_report.save(
            f"import-{import_job.pk}-rejected-rows.csv", File(out), save=False
        )
    return import_job.error_report.name
