"""The change-set engine's lifecycle: check (a dry run), confirm, apply, retry, revert.

States of an ``ImportJob``::

    uploaded ─▶ validating ─▶ validated ─(confirm)─▶ queued ─▶ applying ─▶ applied
                    │                                                 │
                    └─▶ invalid (unusable file: see error_message)    └─▶ failed ─(retry)─▶ queued
                                                                                  (or uploaded)

- a source creates the job (a file: ``import_job_create`` stores the upload) and queues its
  check after commit;
- ``import_job_validate`` (worker) has the source stage its change set set-based (a file's rows
  streamed) and fills the summary; it changes no conversion. ``validated`` when at least one
  row names a conversion, ``invalid`` when the file cannot be used (``error_message`` says why
  and what to do);
- ``import_job_confirm`` (admin) → ``queued``, and queues the apply after commit;
- ``import_job_apply`` (worker) applies all valid changes in one transaction through the status
  service's set-based path, or none: any failure rolls everything back and leaves the job
  ``failed``. A worker that dies mid-apply leaves nothing half-applied (the transaction dies with
  it), and the job is marked ``failed`` when the task is redelivered or by the periodic
  ``import_jobs_fail_stale``. ``import_job_retry`` queues a failed job again.

Where: this module is the lifecycle every source shares (confirm, retry, check only — in
``dry_run`` —, revert, recovery) and queues the tasks (``tasks``) after commit; the worker's
side is ``checking``, ``applying`` and ``recovery`` (the periodic checks), over ``job_state``
(lock, progress, local copy of the file). A source stages rows and creates the job: a file
(``conversions.imports.services.import_job_create``), Conversion Management's buttons and
selected rows (``selection``), a revert (``import_job_revert`` here, ``reverting``).

Applying twice changes nothing the second time: the job is applied once, and a conversion is
only changed while it still has the status the preview saw (a second upload of the same file
finds them all already in that status).

``summary``: an ``ImportSummary`` (``summary``) stored as JSON: the
preview's counts after validation, ``confirmed_by`` once confirmed, the outcome once applied.

``error_report``: a CSV of every rejected row (row number, the original values, the problem).
``progress_done`` / ``progress_total``: how far the current step is (bytes or rows while
validating, conversions while applying); their ratio is what to show.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from conversions.change_sets import recovery, tasks
from conversions.change_sets.applying import import_job_apply
from conversions.change_sets.approval import (
    approval_lock,
    change_set_approval_reason,
    confirm_refusal,
    may_confirm,
)
from conversions.change_sets.checking import import_job_validate
from conversions.change_sets.dry_run import import_job_check_only
from conversions.change_sets.money import ChangeSetMoney
from conversions.change_sets.recovery import import_jobs_expire_unconfirmed
from conversions.change_sets.summary import ImportSummary
from conversions.change_sets.tables import StagingTables, staging_changes_count
from conversions.models import ImportJob

State = ImportJob.State


# --- confirm, retry -----------------------------------------------------------------------------


def import_job_confirm(
    *, import_job: ImportJob, user: Any, send_callbacks: bool, queue_apply: bool = True
) -> ImportJob:
    """Confirm a validated job: it is queued and applied by a worker after commit, with
    ``user`` recorded as the one who confirmed (and on its audit rows).

    ``send_callbacks=False`` applies the changes without owing partners callbacks (recorded on
    each audit row). A job asked for without callbacks (``ImportJob.send_callbacks`` false
    when created: an API change set, a single API change waiting for approval) stays so,
    whoever confirms it. Idempotent: a job already confirmed is returned as it is (a double click
    applies once). Raises ``PermissionDenied`` when the job needs a second person's approval
    and ``user`` may not give it (``approval``), ``ValidationError`` in any other state.

    When the one who asked for the job confirms it, the approval rule is decided again, with
    their own changes confirmed since the check (``approval``: the window): a job that now
    needs approval is marked so and refused.
    """
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=import_job.pk)
        if job.confirmed_at is not None:
            import_job.refresh_from_db()
            return import_job
        if job.state != State.VALIDATED:
            raise ValidationError(
                "Only a validated import can be confirmed; this one is "
                f"{job.get_state_display().lower()}."
            )
        newly_required = _approval_decided_again(job, user)
        if not newly_required and not may_confirm(job, user):
            raise PermissionDenied(confirm_refusal(job, user))
        if not newly_required:
            _job_confirmed(job, user, send_callbacks=send_callbacks, queue_apply=queue_apply)
    import_job.refresh_from_db()
    if newly_required:
        raise PermissionDenied(confirm_refusal(import_job, user))
    return import_job


def _approval_decided_again(job: ImportJob, user: Any) -> bool:
    """For a job confirmed by the one who asked for it (or by anyone, when no one is named),
    decide approval again with their window; saves and returns True when it is newly needed."""
    if job.approval_required or job.user_id not in (None, getattr(user, "pk", None)):
        return False
    approval_lock(user)
    summary = ImportSummary.from_json(job.summary)
    reason = change_set_approval_reason(
        user=user,
        conversions=summary.will_change_total if summary else 0,
        money=ChangeSetMoney.from_json(summary.money if summary else None),
        import_job=job,
    )
    if not reason:
        return False
    job.approval_required = True
    job.approval_reason = reason[:500]
    job.save(update_fields=["approval_required", "approval_reason"])
    return True


def _job_confirmed(job: ImportJob, user: Any, *, send_callbacks: bool, queue_apply: bool) -> None:
    job.state = State.QUEUED
    job.send_callbacks = send_callbacks and job.send_callbacks
    job.confirmed_by = user if getattr(user, "pk", None) else None
    job.confirmed_at = timezone.now()
    summary = ImportSummary.from_json(job.summary)
    if summary is None:  # validated implies a summary
        raise ValidationError("This import has no summary of its check.")
    summary = summary.replace(confirmed=True, confirmed_by=getattr(user, "username", None))
    job.summary = summary.to_json()
    # The bar restarts for the apply, counted in conversions.
    job.progress_done = 0
    job.progress_total = summary.will_change_total
    job.save(
        update_fields=[
            "state",
            "send_callbacks",
            "confirmed_by",
            "confirmed_at",
            "summary",
            "progress_done",
            "progress_total",
        ]
    )
    if queue_apply:
        tasks.import_job_apply_task.delay_on_commit(job.pk)


def import_job_retry(*, import_job: ImportJob) -> ImportJob:
    """Queue a failed job again: its apply when its checked rows are still staged, otherwise
    its validation (the preview is then rebuilt, and the job must be confirmed again)."""
    with transaction.atomic():
        job = _job_locked(import_job, State.FAILED, "Only a failed import can be retried")
        staged = staging_changes_count(StagingTables(job.pk))
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


# --- revert -------------------------------------------------------------------------------------


def import_job_revert(
    *, import_job: ImportJob, user: Any, queue_validation: bool = True
) -> ImportJob:
    """The job that reverts ``import_job`` (an applied import, selected-rows action or revert):
    a new job whose check builds, from the audit rows of the one reverted, the change back to
    each conversion's previous status, where the conversion still has the status that job set.
    It then takes the same preview, approval and apply path as an import (audit source
    ``revert``). A job is reverted at most once: asking again returns the existing revert.
    Raises ``ValidationError`` for a job that is not applied."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=import_job.pk)
        existing = ImportJob.objects.filter(reverts=job).first()
        if existing is not None:
            return existing
        if job.state != State.APPLIED:
            raise ValidationError(
                f"Only an applied job can be reverted; this one is "
                f"{job.get_state_display().lower()}."
            )
        revert = ImportJob.objects.create(
            kind=ImportJob.Kind.REVERT,
            reverts=job,
            user=user if getattr(user, "pk", None) else None,
            original_name=f"Revert of {job.get_kind_display().lower()} {job.pk}",
            state=State.UPLOADED,
        )
        if queue_validation:
            tasks.import_job_validate_task.delay_on_commit(revert.pk)
    return revert


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
    "import_job_check_only",
    "import_job_revert",
    "import_job_confirm",
    "import_job_retry",
    "import_job_validate",
    "import_jobs_expire_unconfirmed",
    "import_jobs_fail_stale",
]
