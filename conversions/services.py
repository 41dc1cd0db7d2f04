"""Status changes: the one path by which a conversion's status changes, whatever the source.

Every real change writes, in the same transaction, the conversion's new status, one
``StatusChange`` audit row and, when the partner wants that status, one ``CallbackDelivery``
outbox row (``conversions.audit``). A change to the status a conversion already has is a no-op:
no audit row, no callback. Callbacks are queued only after commit.

A staged change may also set the conversion's payout and revenue (an amounts file, its revert):
the same statement, the same audit row (which records the amounts it left), and a callback when
the payout changed and the partner wants the status it has. A change of amounts alone keeps the
status, its pending time and (when the change gives none) its reason.

The change is one set-based statement whatever the number of conversions: it locks the target
rows, re-reads their current status under the lock (so a concurrent change is never lost and an
audit row's ``old_status`` is always the status that was replaced), updates them, and inserts
the audit and outbox rows, and the conversion tally's deltas (``conversions.tally``), from what
it updated.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from callbacks import services as callback_services
from callbacks.status_change_rows import StatusChangeRows
from conversions.audit import (
    AUDIT_ID_SEQUENCE_SQL,
    AuditContext,
    callback_owed_sql_for,
    status_change_hash_sql,
    status_changes_record_sql,
)
from conversions.models import Conversion, ImportJob, Source, Status
from conversions.own_changes import own_changes_counted, own_changes_record_sql
from conversions.raw_statements import RawStatement


@dataclass(frozen=True)
class StatusChangeResult:
    """What a call changed: ``transitions`` counts changes by (old status, new status)."""

    transitions: dict[tuple[str, str], int] = field(default_factory=dict)
    callbacks: int = 0

    @property
    def changed(self) -> int:
        return sum(self.transitions.values())


def conversion_status_set(
    *,
    conversion_ids: Sequence[int],
    status: str,
    source: str,
    user: Any = None,
    reason: str = "",
    only_from: str | None = None,
    import_job: ImportJob | None = None,
    send_callbacks: bool = True,
) -> StatusChangeResult:
    """Set ``status`` on the given conversions; the single entry point for every source.

    Conversions already in ``status`` are left alone. With ``only_from``, only conversions
    currently in that status change (the pending-time promotion uses it so that an admin's
    decision made meanwhile wins). Unknown ids are ignored. Runs in its own transaction (or the
    caller's); callbacks are queued after commit.
    """
    _check_status(status)
    if only_from is not None:
        _check_status(only_from)
    ids = sorted({int(pk) for pk in conversion_ids})
    if not ids:
        return StatusChangeResult()
    # One conversion's change (a row's or the API's) is prepared: the same text every call,
    # whose planning was a third of its time (1.1 of 3.3 ms, the longest step under its user's
    # approval lock). A set's stays planned with its ids: the generic plan was a third slower
    # for 5,000 of them (measured).
    one = len(ids) == 1
    conversions_sql = "%(id)s::bigint" if one else "unnest(%(ids)s::bigint[])"
    source_sql = (
        f"SELECT {conversions_sql} AS conversion_id, %(status)s::varchar AS status,"
        " %(reason)s::text AS reason, %(only_from)s::varchar AS expected_status,"
        f" {_AMOUNTS_UNCHANGED}"
    )
    return _apply(
        source_sql,
        {"id": ids[0], "ids": ids, "status": status, "reason": reason, "only_from": only_from},
        audit=_audit_context(source, user, import_job, send_callbacks),
        prepare=one,
    )


def conversion_status_apply_staged(
    *,
    table: str,
    source: str,
    user: Any = None,
    import_job: ImportJob | None = None,
    send_callbacks: bool = True,
) -> StatusChangeResult:
    """Apply the status changes staged in a (temporary) table, set-based.

    ``table`` must have the columns ``conversion_id bigint``, ``status varchar`` (a ``Status``
    value), ``reason text``, ``expected_status varchar`` (NULL, or the status the conversion
    must still have for the row to apply; rows whose conversion has moved on are skipped) and
    ``new_payout`` and ``new_revenue`` (numeric: the amounts to set, NULL to keep them). Each
    conversion must appear at most once. The name is interpolated into SQL: callers pass their
    own identifier, never user input.
    """
    if not table.replace("_", "").isalnum():
        raise ValueError(f"Not a table name: {table!r}")
    source_sql = (
        f"SELECT conversion_id, status, reason, expected_status, new_payout, new_revenue"  # noqa: S608
        f" FROM {table}"
    )
    return _apply(
        source_sql,
        {},
        audit=_audit_context(source, user, import_job, send_callbacks),
        id_bounded=True,
    )


# A source that changes statuses only.
_AMOUNTS_UNCHANGED = "NULL::numeric AS new_payout, NULL::numeric AS new_revenue"


def _audit_context(
    source: str, user: Any, import_job: ImportJob | None, send_callbacks: bool
) -> AuditContext:
    return AuditContext(
        source=source,
        user_id=getattr(user, "pk", None),
        import_job_id=getattr(import_job, "pk", None),
        send_callbacks=send_callbacks,
    )


def _check_status(status: str) -> None:
    if status not in Status.values:
        raise ValueError(f"Unknown status {status!r}; expected one of {Status.values}.")


def _apply(
    source_sql: str,
    source_params: dict[str, Any],
    *,
    audit: AuditContext,
    id_bounded: bool = False,
    prepare: bool = False,
) -> StatusChangeResult:
    statement = _apply_statement(
        source_sql,
        send_callbacks=audit.send_callbacks,
        own_changes=own_changes_counted(audit),
        id_bounded=id_bounded,
        prepare=prepare,
    )
    params = {**source_params, **audit.params(), "now": timezone.now()}
    # No savepoint: the change is one statement, and no caller goes on in its transaction
    # after it fails (an apply is all or nothing; a button's change is its own transaction).
    # The savepoint's two round trips were a fifth of a single change under its user's
    # approval lock (measured).
    with transaction.atomic(savepoint=False):
        rows = statement.rows(params)
        callbacks = rows[0][3] if rows else 0
        if callbacks:
            callback_services.callback_deliveries_dispatch_on_commit()
    return StatusChangeResult(
        transitions={(old, new): count for old, new, count, _ in rows}, callbacks=callbacks
    )


# The conversion's fields a change writes (the UPDATE below; its ``audit_chain_hash`` column is
# no model field): what a caller holding the conversion reloads afterwards.
STATUS_CHANGE_FIELDS = [
    "status",
    "status_reason",
    "status_source",
    "status_changed_at",
    "status_version",
    "pending_until",
    "payout",
    "revenue",
]


@functools.lru_cache(maxsize=32)
def _apply_statement(
    source_sql: str, *, send_callbacks: bool, own_changes: bool, id_bounded: bool, prepare: bool
) -> RawStatement:
    """The one statement of a change: lock, update, and record (audit, outbox, tally) the
    changes that ``source_sql`` asks for; it answers a count per transition. Sent as it is
    (``RawStatement``): at 6,000 characters psycopg would parse it for its placeholders on
    every call, and an import applies chunk after chunk of the same statement."""
    # A staged set comes in chunks of neighbouring ids (a few per cent of the table each).
    # Bounding the look-up by the chunk's first and last id keeps PostgreSQL from hashing the
    # whole conversions table, twice per chunk: 6.3 s -> 3.7 s per 100,000 changes against
    # 2.2M conversions (measured), and the estimate it gives keeps the update on the index.
    id_range = (
        "AND c.id BETWEEN (SELECT min(conversion_id) FROM src)"
        " AND (SELECT max(conversion_id) FROM src)"
        if id_bounded
        else ""
    )
    changes = StatusChangeRows("changed")
    changes_columns = changes.columns_sql(
        conversion="c",
        old_status="l.old_status",
        audit_id="nextval(audit_ids.sequence)",
        callback_owed="l.callback_owed",
        old_amounts=("l.old_payout", "l.old_revenue"),
    )
    record_sql = status_changes_record_sql(changes=changes, send_callbacks=send_callbacks)
    if own_changes:
        record_sql += f",{own_changes_record_sql(changes=changes)}"
    chain_hash = _chain_hash_sql()
    owed = callback_owed_sql_for(partner="p", status="s.status")
    # FOR UPDATE in READ COMMITTED waits for a concurrent change to commit, then re-checks the
    # WHERE clause against, and returns, the row's newest version: old_status is what is
    # actually replaced, and a conversion already moved to the target status (and amounts)
    # drops out. A change owes a callback when its status or its payout moves (revenue is the
    # network's, not the partner's) and the partner wants the status it leaves.
    # Each change draws its audit row's id in the UPDATE's RETURNING, so that the audit and
    # outbox inserts both read ``changed`` alone: no join back from the audit rows to the
    # changes, whose size the planner cannot know (it guessed 2 rows for 36,000 and joined
    # them by a nested loop: 138 s, measured).
    return RawStatement(
        f"""
        WITH src AS ({source_sql}),
        locked AS (
            SELECT c.id, c.status AS old_status, s.status AS new_status,
                   CASE WHEN c.status = s.status AND s.reason = '' THEN c.status_reason
                        ELSE s.reason END AS reason,
                   c.payout AS old_payout, c.revenue AS old_revenue,
                   coalesce(s.new_payout, c.payout) AS new_payout,
                   coalesce(s.new_revenue, c.revenue) AS new_revenue,
                   (c.status <> s.status OR c.payout <> coalesce(s.new_payout, c.payout))
                   AND {owed} AS callback_owed
            FROM conversions_conversion c JOIN src s ON s.conversion_id = c.id
            JOIN callbacks_partner p ON p.id = c.partner_id
            WHERE (c.status <> s.status OR c.payout <> coalesce(s.new_payout, c.payout)
                   OR c.revenue <> coalesce(s.new_revenue, c.revenue))
              AND (s.expected_status IS NULL OR c.status = s.expected_status)
              {id_range}
            ORDER BY c.id
            FOR UPDATE OF c
        ),
        audit_ids AS (SELECT {AUDIT_ID_SEQUENCE_SQL} AS sequence),
        changed AS (
            UPDATE conversions_conversion c
            SET status = l.new_status, status_reason = l.reason,
                status_source = %(audit_source)s::text, status_changed_at = %(now)s,
                status_version = c.status_version + 1, payout = l.new_payout,
                revenue = l.new_revenue,
                pending_until = CASE WHEN l.new_status = l.old_status THEN c.pending_until END,
                audit_chain_hash = {chain_hash}
            FROM locked l, audit_ids
            WHERE c.id = l.id
            RETURNING {changes_columns}
        ),
        {record_sql}
        SELECT old_status, new_status, count(*), (SELECT count(*) FROM deliveries)
        FROM changed GROUP BY old_status, new_status
    """,  # noqa: S608 -- only our own SQL fragments are interpolated
        prepare=prepare,
    )


def _chain_hash_sql() -> str:
    """The change's link in the hash chain, computed in the UPDATE from the previous link the
    conversion row keeps (``conversions.audit``): nothing more is read to extend the chain."""
    return status_change_hash_sql(
        conversion_id="c.id",
        sequence_number="c.status_version + 1",
        old_status="l.old_status",
        new_status="l.new_status",
        reason="l.reason",
        created_at="%(now)s",
        callback_owed="l.callback_owed",
        previous_hash="c.audit_chain_hash",
        payout="l.new_payout",
        revenue="l.new_revenue",
    )


def conversions_pending_promote(*, now: datetime | None = None, batch_size: int = 5000) -> int:
    """Move Pending conversions whose pending time has passed to Success; returns how many.

    A conversion an admin decided on meanwhile is left alone: any change clears
    ``pending_until``, and the change is made with ``only_from=pending``.
    """
    now = now or timezone.now()
    promoted = 0
    while True:
        ids = list(
            Conversion.objects.filter(status=Status.PENDING, pending_until__lte=now)
            .order_by("pending_until")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return promoted
        result = conversion_status_set(
            conversion_ids=ids,
            status=Status.SUCCESS,
            source=Source.PENDING_TIME,
            reason="Pending time elapsed",
            only_from=Status.PENDING,
        )
        promoted += result.changed
        if len(ids) < batch_size:
            return promoted
        # Rows that did not change (e.g. decided by an admin meanwhile) no longer match the
        # filter because every change clears pending_until, so the loop always progresses.
