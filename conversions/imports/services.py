"""Bulk status imports: upload, validate (a dry run), confirm, apply, retry.

States of an ``ImportJob``::

    uploaded ─▶ validating ─▶ validated ─(confirm)─▶ queued ─▶ applying ─▶ applied
                    │                                                 │
                    └─▶ invalid (unusable file: see error_message)    └─▶ failed ─(retry)─▶ queued
                                                                                  (or uploaded)

- ``import_job_create`` stores the upload and queues validation after commit;
- ``import_job_validate`` (worker) streams the file, stages its rows set-based and fills the
  summary; it changes no conversion. ``validated`` when at least one row names a conversion,
  ``invalid`` when the file cannot be used (``error_message`` says why and what to do);
- ``import_job_confirm`` (admin) → ``queued``, and queues the apply after commit;
- ``import_job_apply`` (worker) applies all valid changes in one transaction through the status
  service's set-based path, or none: any failure rolls everything back and leaves the job
  ``failed``. A worker that dies mid-apply leaves nothing half-applied (the transaction dies with
  it), and the job is marked ``failed`` when the task is redelivered or by the periodic
  ``import_jobs_fail_stale``. ``import_job_retry`` queues a failed job again.

Applying twice changes nothing the second time: the job is applied once, and a conversion is
only changed while it still has the status the preview saw (a second upload of the same file
finds them all already in that status).

File rules: see ``conversions.imports.rows`` (columns and headers) and
``conversions.imports.staging`` (how rows resolve to conversions, conflicts). In short: EventId
names one conversion (and must belong to the row's gk_click_id when both are given);
gk_click_id alone names every conversion of that click; the report's ``ID`` column is accepted
as EventId and ``Click ID`` as gk_click_id. Row numbers are the spreadsheet's (header = 1).

``summary`` (JSON) after validation:

- ``rows``: data rows read (blank rows are skipped and not counted);
- ``will_change``: ``{"pending->success": n, …}`` conversions that will change, by transition,
  as of validation; ``will_change_total``: their sum;
- ``unchanged``: conversions already in the status asked for;
- ``not_found``, ``invalid``, ``conflicting``: rejected *rows* of each kind; ``rejected_rows``;
- ``fan_out``: ``[{"offer", "offer_id", "click_rows", "conversions"}]``: per offer, the
  accepted rows with a gk_click_id and no EventId, and the conversions they name;
- ``errors``: ``[{"row": n, "message": "…"}]``, the first 50 rejected rows;
- ``staged``: conversions in the change set; ``columns``: the header used for each column;
  ``reader``, ``validate_seconds``.

Added by the apply: ``applied`` (``{"pending->success": n, …}``), ``applied_total``,
``changed_since_preview`` (conversions whose status changed between validation and apply: they
are left as they are), ``callbacks`` (outbox rows written), ``confirmed_by``,
``apply_seconds``.

``error_report``: a CSV of every rejected row (row number, the original values, the problem).
``progress_done`` / ``progress_total``: how far the current step is (bytes or rows while
validating, conversions while applying); their ratio is what to show.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import connection, connections, transaction
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from conversions.imports import staging
from conversions.imports.readers import (
    UnusableFile,
    file_format_check,
    file_format_from_name,
    file_rows,
)
from conversions.imports.rows import StagedRow, columns_find, row_checker
from conversions.imports.uploads import upload_limit_bytes, upload_too_large_message
from conversions.models import ImportJob, Source
from conversions.services import conversion_status_apply_staged

logger = logging.getLogger(__name__)
State = ImportJob.State
# Advisory-lock namespace of import jobs (PostgreSQL): held by the process working on a job.
_LOCK_NAMESPACE = 0x494D504A  # "IMPJ"
STALE_APPLY_MESSAGE = (
    "The worker applying this import stopped before it finished (it was restarted or killed). "
    "Nothing was changed: the import is all or nothing. Use Retry to apply it again."
)


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


# --- upload -----------------------------------------------------------------------------------


def import_job_create(
    *, user: Any, upload: Any, original_name: str, queue_validation: bool = True
) -> ImportJob:
    """Store an uploaded status file as a new job and queue its validation after commit.

    ``upload``: a Django ``UploadedFile``, a binary file object or a path. It is copied to
    storage in chunks (a temporary upload is moved). Raises ``ValidationError`` for a file
    over ``IMPORT_MAX_UPLOAD_BYTES``, an empty one, another extension than .csv/.xls/.xlsx, or
    content that is not what the extension says (or, for .xlsx, a damaged or bomb-like zip).
    """
    name = Path(original_name).name[:255] or "upload"
    try:
        file_format = file_format_from_name(name)
        with _upload_opened(upload) as (stream, size, local_path):
            if size > upload_limit_bytes():
                raise UnusableFile(upload_too_large_message(size))
            head = stream.read(64 * 1024)
            stream.seek(0)
            file_format_check(head, file_format)
            if file_format == "xlsx":
                from conversions.imports.xlsx import xlsx_archive_check

                if local_path is not None:
                    xlsx_archive_check(local_path)
                else:
                    xlsx_archive_check(stream)  # type: ignore[arg-type]
                    stream.seek(0)
            job = ImportJob(
                user=user if getattr(user, "pk", None) else None,
                original_name=name,
                file_format=file_format,
                size_bytes=size,
                state=State.UPLOADED,
            )
            stored_name = f"{uuid.uuid4().hex}.{file_format}"
            content = upload if hasattr(upload, "temporary_file_path") else File(stream)
            job.file.save(stored_name, content, save=False)
    except UnusableFile as error:
        raise ValidationError(error.message) from error
    job.save()
    if queue_validation:
        _queue_on_commit("import_job_validate_task", job.pk)
    return job


@contextmanager
def _upload_opened(upload: Any) -> Iterator[tuple[IO[bytes], int, str | None]]:
    """(binary stream at 0, size, local path if there is one) for any kind of upload."""
    if isinstance(upload, str | Path):
        with open(upload, "rb") as stream:
            yield stream, Path(upload).stat().st_size, str(upload)
        return
    if hasattr(upload, "temporary_file_path"):
        path = upload.temporary_file_path()
        with open(path, "rb") as stream:
            yield stream, Path(path).stat().st_size, path
        return
    stream = upload.file if hasattr(upload, "chunks") and hasattr(upload, "file") else upload
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(0)
    yield stream, size, None


def _queue_on_commit(task_name: str, import_job_id: int) -> None:
    def send() -> None:
        from conversions.imports import tasks

        getattr(tasks, task_name).delay(import_job_id)

    transaction.on_commit(send)


# --- locks and progress -----------------------------------------------------------------------


@contextmanager
def _job_lock(import_job_id: int) -> Iterator[bool]:
    """Whether this process may work on the job: on PostgreSQL a session advisory lock, held
    until the work ends or the process dies (which is how a dead worker is recognised)."""
    if connection.vendor != "postgresql":
        yield True
        return
    key = (_LOCK_NAMESPACE << 32) | import_job_id
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        (acquired,) = cursor.fetchone()
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


class _ProgressWriter:
    """Writes a job's progress through a second connection, so that it is visible while the
    work's own transaction is still open. Only when the work owns its transaction (not inside a
    caller's, which may hold the job's row) and on PostgreSQL; at most twice a second."""

    def __init__(self, import_job_id: int) -> None:
        self.import_job_id = import_job_id
        self.enabled = connection.vendor == "postgresql" and not connection.in_atomic_block
        self._connection: Any = None
        self._last = 0.0

    def __call__(self, done: int, total: int, *, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.5:
            return
        self._last = now
        try:
            if self._connection is None:
                self._connection = connections.create_connection("default")
            with self._connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE conversions_importjob SET progress_done = %s, progress_total = %s"
                    " WHERE id = %s",
                    [done, total, self.import_job_id],
                )
        except Exception:  # noqa: BLE001 -- progress is a nicety; the work goes on
            logger.warning("Could not write import progress", exc_info=True)
            self.enabled = False

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()


def _job_update(import_job: ImportJob, **fields: Any) -> None:
    for name, value in fields.items():
        setattr(import_job, name, value)
    ImportJob.objects.filter(pk=import_job.pk).update(**fields)


def _jit_off() -> None:
    # PostgreSQL's JIT compiles these large statements for minutes (measured); never worth it.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")


@contextmanager
def _local_path(field: FieldFile) -> Iterator[str]:
    """A local path to a stored file (a temporary copy when the storage is remote)."""
    try:
        local = field.path
    except NotImplementedError:
        local = None
    if local is not None:
        yield local
        return
    with tempfile.NamedTemporaryFile(suffix=Path(field.name or "").suffix) as copy:
        with field.open("rb") as stream:
            shutil.copyfileobj(stream, copy, 1024 * 1024)
        copy.flush()
        yield copy.name


# --- validation -------------------------------------------------------------------------------


def import_job_validate(*, import_job: ImportJob) -> ImportJob:
    """Validate the job's file (a dry run: no conversion changes) and fill its summary.

    Idempotent: a job already past validation is returned as it is; a validation that was
    cut short (its worker died) starts again.
    """
    with _job_lock(import_job.pk) as acquired:
        import_job.refresh_from_db()
        if not acquired or import_job.state not in (State.UPLOADED, State.VALIDATING):
            return import_job
        _validate(import_job)
    return import_job


def _validate(import_job: ImportJob) -> None:
    started = time.monotonic()
    _job_update(
        import_job,
        state=State.VALIDATING,
        started_at=timezone.now(),
        finished_at=None,
        progress_done=0,
        progress_total=import_job.size_bytes,
        error_message="",
        summary={},
    )
    progress = _ProgressWriter(import_job.pk)
    tables = staging.StagingTables(import_job.pk)
    try:
        with transaction.atomic():
            _jit_off()
            with _local_path(import_job.file) as path:
                columns, staged_rows = _rows_staged(path, import_job.file_format, progress)
                staging.staging_rows_create(tables)
                rows = staging.staging_rows_load(tables, staged_rows)
                if rows == 0:
                    raise UnusableFile(
                        "The file has a header row but no data rows. Add one row per "
                        "conversion (gk_click_id and/or EventId, Status) and upload it again."
                    )
            staging.staging_resolve(tables, rows=rows)
            summary = staging.staging_counts(tables)
            summary["columns"] = columns.headers
            summary["reader"] = import_job.file_format
            report = _report_save(import_job, tables, columns.headers, summary)
            if summary["staged"] == 0:
                staging.staging_drop(tables)
                state = State.INVALID
                message = (
                    f"None of the {summary['rows']:,} rows can be applied "
                    f"({summary['not_found']:,} not found, {summary['invalid']:,} invalid, "
                    f"{summary['conflicting']:,} conflicting). Download the rejected rows to "
                    "see why, fix the file and upload it again."
                )
            else:
                staging.staging_drop(tables, keep_changes=True)
                state, message = State.VALIDATED, ""
            summary["validate_seconds"] = round(time.monotonic() - started, 2)
            _job_update(
                import_job,
                state=state,
                summary=summary,
                error_message=message,
                error_report=report,
                finished_at=timezone.now(),
                progress_done=import_job.progress_total,
            )
    except UnusableFile as error:
        _job_update(
            import_job,
            state=State.INVALID,
            error_message=error.message,
            summary={},
            finished_at=timezone.now(),
        )
    except Exception as error:
        logger.exception("Validation of import job %s failed", import_job.pk)
        _job_update(
            import_job,
            state=State.FAILED,
            error_message=(
                f"Checking the file stopped on an unexpected error ({_error_text(error)}). "
                "Nothing was changed. Use Retry to check it again."
            ),
            finished_at=timezone.now(),
        )
    finally:
        progress.close()


def _rows_staged(
    path: str, file_format: str, progress: _ProgressWriter
) -> tuple[Any, Iterator[StagedRow]]:
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
    import_job: ImportJob, tables: staging.StagingTables, headers: dict[str, str], summary: dict
) -> Any:
    if not summary["rejected_rows"]:
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


def _error_text(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:300]}" if text else type(error).__name__


# --- confirm, apply, retry --------------------------------------------------------------------


def import_job_confirm(
    *, import_job: ImportJob, user: Any, send_callbacks: bool, queue_apply: bool = True
) -> ImportJob:
    """Confirm a validated job: it is queued and applied by a worker after commit.

    ``send_callbacks=False`` applies the changes without owing partners callbacks (recorded on
    each audit row). Refuses any other state than ``validated``.
    """
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=import_job.pk)
        if job.state != State.VALIDATED:
            raise ValidationError(
                f"Only a validated import can be confirmed; this one is "
                f"{job.get_state_display().lower()}."
            )
        job.state = State.QUEUED
        job.send_callbacks = send_callbacks
        job.summary = {**job.summary, "confirmed_by": getattr(user, "username", None)}
        # The bar restarts for the apply, counted in conversions.
        job.progress_done = 0
        job.progress_total = int(job.summary.get("will_change_total") or 0)
        job.save(
            update_fields=["state", "send_callbacks", "summary", "progress_done", "progress_total"]
        )
        if queue_apply:
            _queue_on_commit("import_job_apply_task", job.pk)
    import_job.refresh_from_db()
    return import_job


def import_job_apply(*, import_job: ImportJob) -> ImportJob:
    """Apply a queued job: every valid change or none, in one transaction.

    Statuses are re-read at apply time: a conversion whose status is no longer the one the
    preview saw is left alone and counted in ``changed_since_preview``. Audit rows carry the
    job, its uploader and each row's reason; callbacks follow unless the job says not to.
    Idempotent: an applied job is returned as it is; a job found ``applying`` (its worker died)
    is marked failed. A failure leaves nothing changed and the job ``failed``.
    """
    with _job_lock(import_job.pk) as acquired:
        import_job.refresh_from_db()
        if not acquired:
            return import_job
        if import_job.state == State.APPLYING:
            _job_fail_stale(import_job)
        elif import_job.state == State.QUEUED:
            _apply(import_job)
    return import_job


def _job_fail_stale(import_job: ImportJob) -> None:
    """An ``applying`` job whose worker is gone: its transaction rolled back, so it failed."""
    _job_update(
        import_job,
        state=State.FAILED,
        error_message=STALE_APPLY_MESSAGE,
        finished_at=timezone.now(),
    )


def _apply(import_job: ImportJob) -> None:
    tables = staging.StagingTables(import_job.pk)
    staged = staging.staging_changes_count(tables)
    if staged is None or staged != import_job.summary.get("staged"):
        _job_update(
            import_job,
            state=State.FAILED,
            error_message=(
                "The checked rows of this import are no longer in the database (it was "
                "restarted). Nothing was changed. Use Retry to check the file again."
            ),
            finished_at=timezone.now(),
        )
        return
    started = time.monotonic()
    total = int(import_job.summary.get("will_change_total") or 0)
    _job_update(
        import_job,
        state=State.APPLYING,
        started_at=timezone.now(),
        finished_at=None,
        progress_done=0,
        progress_total=total,
        error_message="",
    )
    progress = _ProgressWriter(import_job.pk)
    try:
        with transaction.atomic():
            _jit_off()
            transitions: Counter[str] = Counter()
            callbacks = done = 0
            chunks = staging.staging_apply_chunks(
                tables, chunk_rows=_setting("IMPORT_APPLY_CHUNK_ROWS", 100_000)
            )
            for after_id, up_to_id, rows in chunks:
                result = conversion_status_apply_staged(
                    table=staging.staging_apply_view(tables, after_id=after_id, up_to_id=up_to_id),
                    source=Source.BULK_IMPORT,
                    user=import_job.user,
                    import_job=import_job,
                    send_callbacks=import_job.send_callbacks,
                )
                for (old, new), count in result.transitions.items():
                    transitions[f"{old}->{new}"] += count
                callbacks += result.callbacks
                done += rows
                progress(min(done, total), total)
            applied_total = sum(transitions.values())
            moved = staging.staging_changed_since_preview(tables) - applied_total
            staging.staging_apply_view_drop()
            staging.staging_drop(tables)
            summary = {
                **import_job.summary,
                "applied": dict(sorted(transitions.items())),
                "applied_total": applied_total,
                "changed_since_preview": moved,
                "callbacks": callbacks,
                "apply_seconds": round(time.monotonic() - started, 2),
            }
            _job_update(
                import_job,
                state=State.APPLIED,
                summary=summary,
                finished_at=timezone.now(),
                progress_done=total,
            )
    except Exception as error:
        logger.exception("Applying import job %s failed", import_job.pk)
        _job_update(
            import_job,
            state=State.FAILED,
            error_message=(
                f"Applying stopped on an error ({_error_text(error)}). Nothing was changed: "
                "the import is all or nothing. Use Retry to apply it again."
            ),
            finished_at=timezone.now(),
            progress_done=0,
        )
    finally:
        progress.close()


def import_job_retry(*, import_job: ImportJob) -> ImportJob:
    """Queue a failed job again: its apply when its checked rows are still staged, otherwise
    its validation (the preview is then rebuilt, and the job must be confirmed again)."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=import_job.pk)
        if job.state != State.FAILED:
            raise ValidationError(
                f"Only a failed import can be retried; this one is "
                f"{job.get_state_display().lower()}."
            )
        staged = staging.staging_changes_count(staging.StagingTables(job.pk))
        if "staged" in job.summary and staged == job.summary["staged"]:
            job.state, task = State.QUEUED, "import_job_apply_task"
        else:
            job.state, task = State.UPLOADED, "import_job_validate_task"
            job.summary = {}
        job.error_message = ""
        job.progress_done = 0
        job.save(update_fields=["state", "summary", "error_message", "progress_done"])
        _queue_on_commit(task, job.pk)
    import_job.refresh_from_db()
    return import_job


def import_jobs_fail_stale() -> int:
    """Mark failed the jobs left ``applying`` by a worker that died, and queue again the
    validations it left; returns how many jobs were found. Run periodically.

    On PostgreSQL a job is stale when no session holds its advisory lock; elsewhere when it
    started more than ``IMPORT_STALE_AFTER_SECONDS`` ago.
    """
    jobs = ImportJob.objects.filter(state__in=[State.VALIDATING, State.APPLYING])
    if connection.vendor != "postgresql":
        cutoff = timezone.now() - timedelta(seconds=_setting("IMPORT_STALE_AFTER_SECONDS", 21600))
        jobs = jobs.filter(started_at__lt=cutoff)
    found = 0
    for job_id in jobs.values_list("pk", flat=True):
        with _job_lock(job_id) as acquired:
            if not acquired:
                continue
            job = ImportJob.objects.get(pk=job_id)
            if job.state == State.APPLYING:
                _job_fail_stale(job)
            elif job.state == State.VALIDATING:
                _job_update(job, state=State.UPLOADED)
                _queue_on_commit("import_job_validate_task", job.pk)
            else:
                continue
            found += 1
    return found


def import_jobs_expire_unconfirmed(*, now: datetime | None = None) -> int:
    """Drop the checked rows of the jobs validated but not confirmed within
    ``IMPORT_CONFIRM_WITHIN_HOURS`` (their staging table holds a row per conversion of the
    file), and mark them failed: Retry checks the file again. Returns how many. Run
    periodically."""
    hours = _setting("IMPORT_CONFIRM_WITHIN_HOURS", 168)
    cutoff = (now or timezone.now()) - timedelta(hours=hours)
    expired = 0
    stale = ImportJob.objects.filter(state=State.VALIDATED, finished_at__lt=cutoff)
    for job_id in stale.values_list("pk", flat=True):
        with transaction.atomic():
            # The job's row lock orders this against a confirmation (which takes it too).
            job = ImportJob.objects.select_for_update().get(pk=job_id)
            if job.state != State.VALIDATED:
                continue
            staging.staging_drop(staging.StagingTables(job.pk))
            _job_update(
                job,
                state=State.FAILED,
                error_message=(
                    f"This import was not confirmed within {hours:,} hours of its check, so its "
                    "checked rows were dropped. Nothing was changed. Use Retry to check the file "
                    "again, then confirm it."
                ),
            )
            expired += 1
    return expired


__all__ = [
    "import_job_apply",
    "import_job_confirm",
    "import_job_create",
    "import_job_retry",
    "import_job_validate",
    "import_jobs_expire_unconfirmed",
    "import_jobs_fail_stale",
]
