"""The apply of a conversion upload's change set: each staged row becomes a conversion with its
first status, set-based, one statement per chunk, recorded as a postback's first status is
(``conversions.tracking``): its audit row (old status empty, the first link of its hash chain),
the callbacks it owes and its tally row (``conversions.audit.status_changes_record_sql``).

A conversion recorded meanwhile for the same click and event, or with the same transaction id on
its offer (a late postback), wins: the staged row is skipped by the unique indexes
(``ON CONFLICT DO NOTHING``) and counted as changed since the preview.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.db import transaction
from django.utils import timezone

from callbacks import services as callback_services
from callbacks.status_change_rows import StatusChangeRows
from conversions.audit import (
    AuditContext,
    callback_owed_sql_for,
    first_status_sql,
    status_changes_record_sql,
)
from conversions.models import Conversion, ImportJob, Source
from conversions.raw_statements import RawStatement, columns_sql, insert_columns, insert_values
from conversions.services import StatusChangeResult

# The new conversion's columns that come from the staged row ``n`` (the others are a
# conversion's defaults, as the postback inserts them).
_FROM_STAGED = {
    "click_id": "n.click_id",
    "offer_event_id": "n.offer_event_id",
    "offer_id": "n.offer_id",
    "partner_id": "n.partner_id",
    "status": "n.status",
    "status_reason": "n.reason",
    "status_source": "%(audit_source)s::text",
    "status_changed_at": "%(now)s",
    "status_version": "1",
    "pending_until": "%(now)s + n.pending_time",
    "payout": "n.payout",
    "revenue": "n.revenue",
    "transaction_id": "n.transaction_id",
    "created_at": "n.created_at",
}


def conversions_create_staged(
    *, table: str, user: Any, import_job: ImportJob, send_callbacks: bool = True
) -> StatusChangeResult:
    """Create the conversions staged in ``table`` (a chunk view of an upload's change set:
    ``conversion_id`` the id to give, ``status``, ``reason``, ``offer_id``, ``partner_id``,
    ``payout``, ``revenue``, ``click_id``, ``offer_event_id``, ``created_at``,
    ``transaction_id``, ``pending_time``). Returns the new conversions by ("", status) and the
    callbacks owed. Our own identifier only: it is interpolated."""
    if not table.replace("_", "").isalnum():
        raise ValueError(f"Not a table name: {table!r}")
    audit = AuditContext(
        source=Source.MANUAL_UPLOAD,
        user_id=getattr(user, "pk", None),
        import_job_id=import_job.pk,
        send_callbacks=send_callbacks,
    )
    params = {**_defaults(), **audit.params(), "now": timezone.now()}
    with transaction.atomic(savepoint=False):
        rows = _create_statement(table, send_callbacks=send_callbacks).rows(params)
        callbacks = rows[0][2] if rows else 0
        if callbacks:
            callback_services.callback_deliveries_dispatch_on_commit()
    return StatusChangeResult(
        transitions={("", status): count for status, count, _ in rows}, callbacks=callbacks
    )


@cache
def _defaults() -> dict[str, Any]:
    """Every other column as a conversion built with nothing would insert it."""
    return {
        f"conversion_{column}": value
        for column, value in insert_values(Conversion()).items()
        if column not in _FROM_STAGED
    }


@cache
def _create_statement(table: str, *, send_callbacks: bool) -> RawStatement:
    columns = insert_columns(Conversion)
    values = ", ".join(_FROM_STAGED.get(column, f"%(conversion_{column})s") for column in columns)
    changes = StatusChangeRows("created")
    changes_columns, chain_hash = first_status_sql(
        changes,
        conversion_id="n.conversion_id",
        sequence_number="1::bigint",
        created_at="%(now)s::timestamptz",
    )
    owed = callback_owed_sql_for(partner="p", status="s.status")
    return RawStatement(
        f"""
        WITH n AS (
            SELECT s.*, {owed} AS callback_owed
            FROM {table} s JOIN callbacks_partner p ON p.id = s.partner_id
        ),
        inserted AS (
            INSERT INTO conversions_conversion AS c (id, {columns_sql(columns)}, audit_chain_hash)
            SELECT n.conversion_id, {values}, {chain_hash} FROM n ORDER BY n.conversion_id
            ON CONFLICT DO NOTHING
            RETURNING c.*
        ),
        created AS (
            SELECT {changes_columns} FROM inserted c JOIN n ON n.conversion_id = c.id
        ),
        {status_changes_record_sql(changes=changes, send_callbacks=send_callbacks)}
        SELECT new_status, count(*), (SELECT count(*) FROM deliveries)
        FROM created GROUP BY new_status
    """  # noqa: S608 -- only our own identifiers and SQL fragments are interpolated
    )
