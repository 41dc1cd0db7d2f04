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

Where: this module is the lifecycle (create, confirm, retry) and queues the tasks
(``tasks``) after commit; the worker's side is ``validation``, ``applying`` and ``recovery``
(the periodic checks), over ``worker`` (lock, progress, local copy of the file).

Applying twice changes nothing the second time: the job is applied once, and a conversion is
only changed while it still has the status the preview saw (a second upload of the same file
finds them all already in that status).

File rules: see ``conversions.imports.reading`` (formats), ``conversions.imports.rows``
(columns and headers) and ``conversions.imports.staging`` (how rows resolve to conversions,
conflicts). In short: EventId names one conversion (and must belong to the row's gk_click_id
when both are given); gk_click_id alone names every conversion of that click; the report's
``ID`` column is accepted as EventId and ``Click ID`` as gk_click_id. Row numbers are the
spreadsheet's (header = 1).

``summary``: an ``ImportSummary`` (``conversions.imports.summary``) stored as JSON: the
preview's counts after validation, ``confirmed_by`` once confirmed, the outcome once applied.

``error_report``: a CSV of every rejected row (row number, the original values, the problem).
``progress_done`` / ``progress_total``: how far the current step is (bytes or rows while
validating, conversions while applying); their ratio is what to show.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction

from conversions.imports import recovery, staging, tasks
from conversions.imports.applying import import_job_apply
from conversions.imports.reading.sniffing import file_format_check, file_format_from_name
from conversions.imports.reading.types import UnusableFile
from conversions.imports.reading.xlsx import xlsx_archive_check
from conversions.imports.recovery import import_jobs_expire_unconfirmed
from conversions.imports.summary import ImportSummary
from conversions.imports.uploads import upload_limit_bytes, upload_too_large_message
from conversions.imports.validation import import_job_validate
from conversions.models import ImportJob

State = ImportJob.State


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
        tasks.import_job_validate_task.delay_on_commit(job.pk)
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


# --- confirm, retry -----------------------------------------------------------------------------


def import_job_confirm(
    *, import_job: ImportJob, user: Any, send_callbacks: bool, queue_apply: bool = True
) -> ImportJob:
    """Confirm a validated job: it is queued and applied by a worker after commit.

    ``send_callbacks=False`` applies the changes without owing partners callbacks (recorded on
    each audit row). Refuses any other state than ``validated``.
    """
    with transaction.atomic():
        job = _job_locked(import_job, State.VALIDATED, "Only a validated import can be confirmed")
        job.state = State.QUEUED
        job.send_callbacks = send_callbacks
        summary = ImportSummary.from_json(job.summary)
        if summary is None:  # validated implies a summary
            raise ValidationError("This import has no summary of its check.")
        summary = summary.replace(confirmed=True, confirmed_by=getattr(user, "username", None))
        job.summary = summary.to_json()
        # The bar restarts for the apply, counted in conversions.
        job.progress_done = 0
        job.progress_total = summary.will_change_total
        job.save(
            update_fields=["state", "send_callbacks", "summary", "progress_done", "progress_total"]
        )
        if queue_apply:
            tasks.import_job_apply_task.delay_on_commit(job.pk)
    import_job.refresh_from_db()
    return import_job


def import_job_retry(*, import_job: ImportJob) -> ImportJob:
    """Queue a failed job again: its apply when its checked rows are still staged, otherwise
    its validation (the preview is then rebuilt, and the job must be confirmed again)."""
    with transaction.atomic():
        job = _job_locked(import_job, State.FAILED, "Only a failed import can be retried")
        staged = staging.staging_changes_count(staging.StagingTables(job.pk))
        summary = ImportSummary.from_json(job.summary)
        if summary is not None and staged == summary.staged:
            job.state, task = State.QUEUED, tasks.import_job_apply_task
        else:
            job.state, task = State.UPLOADED, tasks.import_job_validate_task
            job.summary = {}
        job.error_message = ""
        job.progress_done = 0
        job.save(update_fields=["state", "summary", "error_message", "progress_done"])
        task.delay_on_commit(job.pk)
    import_job.refresh_from_db()
    return import_job


def _job_locked(import_job: ImportJob, state: str, refusal: str) -> ImportJob:
    """The job's row, locked until the transaction ends; ``ValidationError`` (``refusal``, and
    the job's state) unless it is in ``state``."""
    job = ImportJob.objects.select_for_update().get(pk=import_job.pk)
    if job.state != state:
        raise ValidationError(f"{refusal}; this one is {job.get_state_display().lower()}.")
    return job


def import_jobs_fail_stale() -> int:
    """Mark failed the jobs left ``applying`` by a worker that died, and queue again (after
    commit) the validations it left; returns how many jobs were found. Run periodically."""
    return recovery.import_jobs_fail_stale(
        validation_queue=tasks.import_job_validate_task.delay_on_commit
    )


__all__ = [
    "import_job_apply",
    "import_job_confirm",
    "import_job_create",
    "import_job_retry",
    "import_job_validate",
    "import_jobs_expire_unconfirmed",
    "import_jobs_fail_stale",
]
