"""A status file's job: the upload stored and checked for what can be refused before any work
(size, emptiness, extension, content that is not what the extension says, a damaged or
bomb-like XLSX), then handed to the change-set engine (``conversions.change_sets.services``),
whose worker reads the file (``staging.file_job_stage``) and takes it from there.

File rules: see ``conversions.imports.reading`` (formats), ``conversions.imports.rows``
(columns and headers) and ``conversions.imports.staging`` (how rows resolve to conversions,
conflicts). In short: EventId names one conversion (and must belong to the row's gk_click_id
when both are given); gk_click_id alone names every conversion of that click; the report's
``ID`` column is accepted as EventId and ``Click ID`` as gk_click_id. Row numbers are the
spreadsheet's (header = 1).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.files import File

from conversions.change_sets import tasks
from conversions.imports.reading.sniffing import file_format_check, file_format_from_name
from conversions.imports.reading.types import UnusableFile
from conversions.imports.reading.xlsx import xlsx_archive_check
from conversions.imports.uploads import upload_limit_bytes, upload_too_large_message
from conversions.models import ImportJob

State = ImportJob.State


# --- upload -----------------------------------------------------------------------------------


def import_job_create(
    *,
    user: Any,
    upload: Any,
    original_name: str,
    queue_validation: bool = True,
    kind: str = ImportJob.Kind.FILE,
) -> ImportJob:
    """Store an uploaded status file as a new job and queue its validation after commit.

    ``upload``: a Django ``UploadedFile``, a binary file object or a path. It is copied to
    storage in chunks (a temporary upload is moved). Raises ``ValidationError`` for a file
    over ``IMPORT_MAX_UPLOAD_BYTES``, an empty one, another extension than .csv/.xls/.xlsx, or
    content that is not what the extension says (or, for .xlsx, a damaged or bomb-like zip).
    ``kind``: ``ImportJob.Kind.FILE`` (statuses of existing conversions) or ``UPLOAD``
    (conversions that tracking missed, ``upload_staging``).
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
                kind=kind,
                user=user if getattr(user, "pk", None) else None,
                original_name=name,
                file_format=file_format,
                size_bytes=size,
                file_sha256=_sha256(stream),
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


def _sha256(stream: IO[bytes]) -> str:
    """The stream's SHA-256 (to tell the same file uploaded again), read from 0 and rewound."""
    digest = hashlib.sha256()
    while block := stream.read(1024 * 1024):
        digest.update(block)
    stream.seek(0)
    return digest.hexdigest()


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
