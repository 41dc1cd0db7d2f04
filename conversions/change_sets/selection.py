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
"""

# Table names are built from the job's integer id, never from input:
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from conversions.change_sets.approval import approval_lock, change_set_approval_reason
from conversions.change_sets.money import ChangeSetMoney, conversions_status_money
from conversions.change_sets.summary import ImportSummary
from conversions.change_sets.tables import StagingTables
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
) -> SelectionOutcome:
    """Set ``status`` on the selected conversions, or stage the change for approval when it
    needs a second person (counting ``user``'s own changes in the approval window).
    Conversions already in ``status`` are left alone (and not part of the change).
    ``single``: one conversion's own button (no job is kept when it applies at once)."""
    ids = sorted({int(pk) for pk in conversion_ids})
    with transaction.atomic():
        approval_lock(user)
        money = conversions_status_money(conversion_ids=ids, status=status)
        changing = sum(line.conversions for line in money.transitions)
        if not changing:
            return SelectionOutcome()
        needed = change_set_approval_reason(user=user, conversions=changing, money=money)
        if needed:
            job = _job_waiting(
                ids, status=status, user=user, reason=reason, money=money, approval=needed
            )
            return SelectionOutcome(job=job, waiting=True)
        if single:
            result = conversion_status_set(
                conversion_ids=ids, status=status, source=Source.ADMIN, user=user, reason=reason
            )
            return SelectionOutcome(result=result)
        return _applied_as_job(ids, status=status, user=user, reason=reason, money=money)


def _job_name(ids: list[int], status: str) -> str:
    label = Status(status).label
    if len(ids) == 1:
        return f"Set conversion {ids[0]} to {label}"
    return f"Set {len(ids):,} selected conversions to {label}"


def _applied_as_job(
    ids: list[int], *, status: str, user: Any, reason: str, money: ChangeSetMoney
) -> SelectionOutcome:
    now = timezone.now()
    job = ImportJob.objects.create(
        kind=ImportJob.Kind.ACTION,
        user=user,
        confirmed_by=user,
        confirmed_at=now,
        original_name=_job_name(ids, status),
        state=ImportJob.State.APPLYING,
        apply_started_at=now,
    )
    result = conversion_status_set(
        conversion_ids=ids,
        status=status,
        source=Source.ADMIN,
        user=user,
        reason=reason,
        import_job=job,
    )
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
        confirmed_by=getattr(user, "username", None),
        applied=transitions,
        applied_total=result.changed,
        callbacks=result.callbacks,
    )
    job.summary = summary.to_json()
    job.state = ImportJob.State.APPLIED
    job.apply_finished_at = timezone.now()
    job.save(update_fields=["summary", "state", "apply_finished_at"])
    return SelectionOutcome(result=result, job=job)


# The change set of a selection, in the shape every job's change set has (``staging``).
_STAGE_SQL = """
    CREATE UNLOGGED TABLE {changes} AS
    SELECT c.id AS conversion_id, %(status)s::varchar AS status, %(reason)s::text AS reason,
           c.status AS expected_status, c.offer_id, c.partner_id, c.payout, c.revenue
    FROM conversions_conversion c
    WHERE c.id = ANY(%(ids)s::bigint[]) AND c.status <> %(status)s
"""


def _job_waiting(
    ids: list[int],
    *,
    status: str,
    user: Any,
    reason: str,
    money: ChangeSetMoney,
    approval: str,
) -> ImportJob:
    now = timezone.now()
    job = ImportJob.objects.create(
        kind=ImportJob.Kind.ACTION,
        user=user,
        original_name=_job_name(ids, status),
        state=ImportJob.State.VALIDATING,
        validation_started_at=now,
    )
    tables = StagingTables(job.pk)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {tables.changes}")
        cursor.execute(
            _STAGE_SQL.format(changes=tables.changes),
            {"ids": ids, "status": status, "reason": reason},
        )
        cursor.execute(f"ALTER TABLE {tables.changes} ADD PRIMARY KEY (conversion_id)")
        cursor.execute(
            f"SELECT expected_status, count(*) FROM {tables.changes} GROUP BY 1 ORDER BY 1"
        )
        will_change = {f"{old}->{status}": count for old, count in cursor.fetchall()}
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
