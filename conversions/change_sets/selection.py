"""Status changes asked for in Conversion Management: a conversion's own buttons (its row, its
page) and the "Set status of selected conversions" action. A thin source of the change-set
engine: it works out the money, asks the approval rule, then either applies at once or stages
the change set as a job that waits for a second person.

- Applied at once (no approval needed): through the status service with ``source=admin``.
  The action records a job of its own (kind ``action``: a page, no file) that can be
  reverted; a single conversion's button records no job (its audit row is the record).
- Waiting (approval needed, whatever the button): a job of kind ``action`` in state
  ``validated``, its change set staged like an import's, that another user allowed to approve
  confirms on its page; a worker then applies it as it applies an import (audit source
  ``admin``), re-reading each conversion's status at that time.

The Management API's single changes take the same path with ``source=api`` (a waiting job is
then of kind ``api``, applied with source ``api``). ``send_callbacks=False`` applies without
owing partners callbacks (recorded on each audit row); a waiting job keeps that wish, and
whoever approves it cannot turn callbacks back on (``services.import_job_confirm``).
"""

# Table names are built from the job's integer id, never from input:
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from conversions.change_sets.approval import approval_lock, change_set_approval_reason
from conversions.change_sets.money import ChangeSetMoney, conversions_status_money
from conversions.change_sets.summary import ImportSummary
from conversions.change_sets.tables import StagingTables, execute, staging_changes_create
from conversions.models import ImportJob, Source, Status
from conversions.services import StatusChangeResult, conversion_status_set


@dataclass(frozen=True)
class SelectionOutcome:
    """What asking for the change did: ``result`` what changed now (nothing while waiting);
    ``job`` the job that records the change (``None`` for a single conversion's change, or
    when nothing changed); ``waiting``: the job waits for a second person's approval."""

    result: StatusChangeResult = field(default_factory=StatusChangeResult)
    job: ImportJob | None = None
    waiting: bool = False


def selection_status_set(
    *,
    conversion_ids: Sequence[int],
    status: str,
    user: Any,
    reason: str = "",
    single: bool = False,
    source: str = Source.ADMIN,
    send_callbacks: bool = True,
) -> SelectionOutcome:
    """Set ``status`` on the selected conversions, or stage the change for approval when it
    needs a second person (counting ``user``'s own changes in the approval window).
    Conversions already in ``status`` are left alone (and not part of the change).
    ``single``: one conversion's own button (no job is kept when it applies at once).
    ``source``: ``admin`` (Conversion Management) or ``api`` (the Management API), the audit
    rows' source; ``send_callbacks=False``: the partners are owed no callback."""
    if source not in _JOB_KINDS:
        raise ValueError(f"selection_status_set: no selection source {source!r}")
    change = _Change(
        status=status, user=user, reason=reason, source=source, send_callbacks=send_callbacks
    )
    ids = sorted({int(pk) for pk in conversion_ids})
    if single and len(ids) == 1:
        outcome = _single_applied(ids, change)
        if outcome is not None:
            return outcome
    with transaction.atomic():
        approval_lock(user)
        money = conversions_status_money(
            conversion_ids=ids, status=status, send_callbacks=send_callbacks
        )
        changing = sum(line.conversions for line in money.transitions)
        if not changing:
            return SelectionOutcome()
        needed = change_set_approval_reason(user=user, conversions=changing, money=money)
        if needed:
            job = _job_waiting(ids, change, money=money, approval=needed)
            return SelectionOutcome(job=job, waiting=True)
        if single:
            return SelectionOutcome(result=change.applied(ids))
        return _applied_as_job(ids, change, money=money)


def _single_applied(ids: list[int], change: _Change) -> SelectionOutcome | None:
    """One conversion's change when it needs no second person, its money read before the
    user's approval lock: every change of the user's waits for that lock, so it is held for
    the window's read, the change and the commit alone (the Management API's single changes
    by one key follow each other through it). The change applies only from the status the
    money was read in (``only_from``), so the money decided on is the money moved. ``None``:
    take the locked path (the change needs approval, or the conversion moved meanwhile)."""
    money = conversions_status_money(
        conversion_ids=ids, status=change.status, send_callbacks=change.send_callbacks
    )
    if not money.transitions:
        return SelectionOutcome()  # already in the status (or not found)
    old_status = money.transitions[0].label.partition("->")[0]
    with transaction.atomic():
        approval_lock(change.user)
        if change_set_approval_reason(user=change.user, conversions=1, money=money):
            return None
        result = change.applied(ids, only_from=old_status)
    return SelectionOutcome(result=result) if result.changed else None


# The kind of job that records each source's selection (and its audit source when applied).
_JOB_KINDS: dict[str, str] = {Source.ADMIN: ImportJob.Kind.ACTION, Source.API: ImportJob.Kind.API}


@dataclass(frozen=True)
class _Change:
    """The change asked for, as every step of the selection passes it on."""

    status: str
    user: Any
    reason: str
    source: str
    send_callbacks: bool

    def job(self, ids: list[int], **fields: Any) -> ImportJob:
        return ImportJob.objects.create(
            kind=_JOB_KINDS[self.source],
            user=self.user,
            original_name=_job_name(ids, self.status),
            send_callbacks=self.send_callbacks,
            **fields,
        )

    def applied(
        self, ids: list[int], import_job: ImportJob | None = None, only_from: str | None = None
    ) -> StatusChangeResult:
        return conversion_status_set(
            conversion_ids=ids,
            status=self.status,
            source=self.source,
            user=self.user,
            reason=self.reason,
            only_from=only_from,
            import_job=import_job,
            send_callbacks=self.send_callbacks,
        )


def _job_name(ids: list[int], status: str) -> str:
    label = Status(status).label
    if len(ids) == 1:
        return f"Set conversion {ids[0]} to {label}"
    return f"Set {len(ids):,} selected conversions to {label}"


def _applied_as_job(ids: list[int], change: _Change, *, money: ChangeSetMoney) -> SelectionOutcome:
    now = timezone.now()
    job = change.job(
        ids,
        confirmed_by=change.user,
        confirmed_at=now,
        state=ImportJob.State.APPLYING,
        apply_started_at=now,
    )
    result = change.applied(ids, import_job=job)
    if not result.changed:
        job.delete()  # no audit row names it
        return SelectionOutcome(result=result)
    transitions = {f"{old}->{new}": count for (old, new), count in result.transitions.items()}
    summary = ImportSummary(
        rows=len(ids),
        will_change=transitions,
        will_change_total=result.changed,
        unchanged=len(ids) - result.changed,
        staged=result.changed,
        reader="selection",
        money=money.to_json(),
        confirmed=True,
        confirmed_by=getattr(change.user, "username", None),
        applied=transitions,
        applied_total=result.changed,
        callbacks=result.callbacks,
    )
    job.summary = summary.to_json()
    job.state = ImportJob.State.APPLIED
    job.apply_finished_at = timezone.now()
    job.save(update_fields=["summary", "state", "apply_finished_at"])
    return SelectionOutcome(result=result, job=job)


# The change set of a selection, in the shape every job's change set has (``CHANGE_COLUMNS``).
_STAGE_SELECT = """
    SELECT c.id, %(status)s::varchar, %(reason)s::text, c.status, c.offer_id, c.partner_id,
           c.payout, c.revenue, NULL::numeric, NULL::numeric
    FROM conversions_conversion c
    WHERE c.id = ANY(%(ids)s::bigint[]) AND c.status <> %(status)s
"""


def _job_waiting(
    ids: list[int], change: _Change, *, money: ChangeSetMoney, approval: str
) -> ImportJob:
    job = change.job(ids, state=ImportJob.State.VALIDATING, validation_started_at=timezone.now())
    tables = StagingTables(job.pk)
    staging_changes_create(
        tables,
        select=_STAGE_SELECT,
        params={"ids": ids, "status": change.status, "reason": change.reason},
    )
    will_change = {
        f"{old}->{change.status}": count
        for old, count in execute(
            f"SELECT expected_status, count(*) FROM {tables.changes} GROUP BY 1 ORDER BY 1"  # noqa: S608
        )
    }
    staged = sum(will_change.values())
    job.summary = ImportSummary(
        rows=len(ids),
        will_change=will_change,
        will_change_total=staged,
        unchanged=len(ids) - staged,
        staged=staged,
        reader="selection",
        money=money.to_json(),
    ).to_json()
    job.state = ImportJob.State.VALIDATED
    job.validation_finished_at = timezone.now()
    job.approval_required = True
    job.approval_reason = approval[:300]
    job.progress_total = job.progress_done = staged
    job.save()
    return job
