"""The worker's apply of a confirmed import job: every valid change or none, in one transaction,
through the status service's set-based path, in chunks of conversion ids (see the state machine
in ``services``)."""

from __future__ import annotations

import time
from collections import Counter

from django.conf import settings
from django.db import transaction

from conversions.change_sets import job_state
from conversions.change_sets.creating import conversions_create_staged
from conversions.change_sets.outcomes import change_set_outcomes_keep
from conversions.change_sets.summary import ImportSummary
from conversions.change_sets.tables import (
    MONEY_COLUMNS,
    StagingTables,
    staging_apply_chunks,
    staging_apply_view,
    staging_apply_view_drop,
    staging_changes_count,
    staging_drop,
)
from conversions.imports.upload_staging import NEW_CONVERSION_COLUMNS
from conversions.models import ImportJob, Source
from conversions.services import conversion_status_apply_staged

State = ImportJob.State
# The audit source of each kind of job's changes.
_SOURCES = {
    ImportJob.Kind.FILE: Source.BULK_IMPORT,
    ImportJob.Kind.ACTION: Source.ADMIN,
    ImportJob.Kind.REVERT: Source.REVERT,
    ImportJob.Kind.API: Source.API,
    ImportJob.Kind.UPLOAD: Source.MANUAL_UPLOAD,
}
STALE_APPLY_MESSAGE = (
    "The worker applying this import stopped before it finished (it was restarted or killed). "
    "Nothing was changed: the import is all or nothing. Use Retry to apply it again."
)


def import_job_apply(*, import_job: ImportJob) -> ImportJob:
    """Apply a queued job: every valid change or none, in one transaction.

    Statuses are re-read at apply time: a conversion whose status is no longer the one the
    preview saw is left alone and counted in ``changed_since_preview``. Audit rows carry the
    job, the user who confirmed it and each row's reason (source ``revert`` for a revert);
    callbacks follow unless the job says not to. Idempotent: an applied job is returned as it
    is; a job found ``applying`` (its worker died) is marked failed. A failure leaves nothing
    changed and the job ``failed``. The change set is kept as the job's per-row outcomes
    (``outcomes``).
    """
    with job_state.job_lock(import_job.pk) as acquired:
        import_job.refresh_from_db()
        if not acquired:
            return import_job
        if import_job.state == State.APPLYING:
            import_job_fail_stale(import_job)
        elif import_job.state == State.QUEUED:
            _apply(import_job)
    return import_job


def import_job_fail_stale(import_job: ImportJob) -> None:
    """An ``applying`` job whose worker is gone: its transaction rolled back, so it failed."""
    job_state.job_fail(import_job, STALE_APPLY_MESSAGE)


def _apply(import_job: ImportJob) -> None:
    tables = StagingTables(import_job.pk)
    staged = staging_changes_count(tables)
    summary = ImportSummary.from_json(import_job.summary)
    if summary is None or staged != summary.staged:
        job_state.job_fail(
            import_job,
            "The checked rows of this import are no longer in the database (it was "
            "restarted). Nothing was changed. Use Retry to check the file again.",
        )
        return
    started = time.monotonic()
    total = summary.will_change_total
    job_state.job_start(import_job, State.APPLYING, progress_total=total)
    progress = job_state.ProgressWriter(import_job.pk)
    try:
        with transaction.atomic():
            job_state.jit_off()
            transitions, callbacks = _chunks_applied(import_job, tables, progress, total=total)
            applied_total = sum(transitions.values())
            # The changes the preview counted that the apply left: their conversion's status
            # moved since (or, for an upload, a postback recorded the conversion meanwhile).
            # Counted from the change set, not from the statuses found now, which a change of
            # amounts alone does not move.
            moved = total - applied_total
            staging_apply_view_drop()
            change_set_outcomes_keep(tables)  # the per-row outcomes, kept with the job
            staging_drop(tables)
            summary = summary.replace(
                applied=dict(sorted(transitions.items())),
                applied_total=applied_total,
                changed_since_preview=moved,
                callbacks=callbacks,
                apply_seconds=round(time.monotonic() - started, 2),
            )
            job_state.job_finish(
                import_job, State.APPLIED, summary=summary.to_json(), progress_done=total
            )
    except Exception as error:
        job_state.job_fail_unexpected(
            import_job,
            error,
            step="Applying",
            message="Applying stopped on an error ({error}). Nothing was changed: the import "
            "is all or nothing. Use Retry to apply it again.",
            progress_done=0,
        )
    finally:
        progress.close()


def _chunks_applied(
    import_job: ImportJob, tables: StagingTables, progress: job_state.ProgressWriter, *, total: int
) -> tuple[Counter[str], int]:
    """Apply the change set chunk by chunk through the status service (in the caller's
    transaction); the changes by transition ("pending->success") and the callbacks owed."""
    transitions: Counter[str] = Counter()
    callbacks = done = 0
    source = _SOURCES[ImportJob.Kind(import_job.kind)]
    # The audit rows record who confirmed the change (the uploader, when no one did: the
    # import_statuses command without --user).
    user = import_job.confirmed_by or import_job.user
    chunks = staging_apply_chunks(tables, chunk_rows=settings.IMPORT_APPLY_CHUNK_ROWS)
    creates = import_job.kind == ImportJob.Kind.UPLOAD
    for after_id, up_to_id, rows in chunks:
        if creates:
            view = staging_apply_view(
                tables,
                after_id=after_id,
                up_to_id=up_to_id,
                extra=(*MONEY_COLUMNS, *NEW_CONVERSION_COLUMNS),
            )
            result = conversions_create_staged(
                table=view,
                user=user,
                import_job=import_job,
                send_callbacks=import_job.send_callbacks,
            )
        else:
            result = conversion_status_apply_staged(
                table=staging_apply_view(tables, after_id=after_id, up_to_id=up_to_id),
                source=source,
                user=user,
                import_job=import_job,
                send_callbacks=import_job.send_callbacks,
            )
        for (old, new), count in result.transitions.items():
            transitions[f"{old}->{new}"] += count
        callbacks += result.callbacks
        done += rows
        progress(min(done, total), total)
    return transitions, callbacks
