"""The mechanics a worker needs around an import job's work, whatever the step.

- ``job_lock``: a session advisory lock per job, held while a process works on it and released
  when the work ends or the process dies (which is how a dead worker is recognised: a job
  ``validating`` or ``applying`` whose lock nobody holds is stale);
- ``ProgressWriter``: progress written through a second connection, visible while the work's
  own transaction is still open;
- ``jit_off``: PostgreSQL's JIT compiled these large statements for minutes (measured, with a
  batch of 10,000, and could not be cancelled): never worth it;
- ``local_path``: a stored file as a local path (readers and the child process need one);
- ``job_update``, ``job_start``, ``job_finish``, ``job_fail`` (and ``job_fail_unexpected``): the
  job's fields written at once, on the object and its row; validation and apply keep their own
  start and finish times.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.db import connection, connections
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from conversions.models import ImportJob

logger = logging.getLogger(__name__)
# Advisory-lock namespace of import jobs: held by the process working on a job.
_LOCK_NAMESPACE = 0x494D504A  # "IMPJ"


@contextmanager
def job_lock(import_job_id: int) -> Iterator[bool]:
    """Whether this process may work on the job: a session advisory lock, held until the work
    ends or the process dies."""
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


class ProgressWriter:
    """Writes a job's progress through a second connection, so that it is visible while the
    work's own transaction is still open. Only when the work owns its transaction (not inside a
    caller's, which may hold the job's row); at most twice a second."""

    def __init__(self, import_job_id: int) -> None:
        self.import_job_id = import_job_id
        self.enabled = not connection.in_atomic_block
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


def job_update(import_job: ImportJob, **fields: Any) -> None:
    for name, value in fields.items():
        setattr(import_job, name, value)
    ImportJob.objects.filter(pk=import_job.pk).update(**fields)


# The step a job in each state is in (whose start and finish times it has).
_STEPS = {
    ImportJob.State.UPLOADED: "validation",
    ImportJob.State.VALIDATING: "validation",
    ImportJob.State.QUEUED: "apply",
    ImportJob.State.APPLYING: "apply",
}


def job_start(import_job: ImportJob, state: str, *, progress_total: int, **fields: Any) -> None:
    """The job's step (validation or apply, from ``state``) begins: its state, the step's start
    now and no finish, no error, the bar at 0."""
    step = _STEPS[ImportJob.State(state)]
    job_update(
        import_job,
        state=state,
        progress_done=0,
        progress_total=progress_total,
        error_message="",
        **{f"{step}_started_at": timezone.now(), f"{step}_finished_at": None},
        **fields,
    )


def job_finish(import_job: ImportJob, state: str, **fields: Any) -> None:
    """The job's running step ends in ``state``, finished now."""
    step = _STEPS.get(ImportJob.State(import_job.state))
    if step is not None:
        fields.setdefault(f"{step}_finished_at", timezone.now())
    job_update(import_job, state=state, **fields)


def job_fail(import_job: ImportJob, message: str, **fields: Any) -> None:
    """Mark the job failed with ``message`` (what happened, and that Retry is the way on); the
    step it was in is finished now."""
    job_finish(import_job, ImportJob.State.FAILED, error_message=message, **fields)


def job_fail_unexpected(
    import_job: ImportJob, error: Exception, *, step: str, message: str, **fields: Any
) -> None:
    """The job's ``step`` stopped on an unexpected error: logged with its traceback, and the job
    failed with ``message``, whose ``{error}`` is the error in one line."""
    logger.exception("%s import job %s failed", step, import_job.pk)
    job_fail(import_job, message.format(error=_error_text(error)), **fields)


def jit_off() -> None:
    """``SET LOCAL jit = off`` for the rest of the current transaction."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")


@contextmanager
def local_path(field: FieldFile) -> Iterator[str]:
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


def _error_text(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:300]}" if text else type(error).__name__
