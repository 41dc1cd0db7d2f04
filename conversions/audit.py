"""The audit trail's one writer: the SQL that records status changes and the callbacks they owe.

Every status change, whatever its source (a postback's first status, an admin, an import, the
pending-time promotion), is first made as a relation of *changes* inside one statement, then
recorded from it by :func:`status_changes_record_sql`: one ``StatusChange`` audit row each, and
one ``CallbackDelivery`` outbox row where the partner wants that status (the rule is
``callbacks.services.callback_owed_sql``). Both inserts read the same relation in the same
statement, so an audit row never exists without the outbox row it owes, nor the reverse. The
same statement keeps the conversion tally exact (``conversions.tally``): -1 for each old status,
+1 for each new one, in one small insert per statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from callbacks.services import StatusChangeRows, callback_deliveries_insert_sql
from conversions.tally import TalliedColumns, conversion_tally_deltas_insert_sql


@dataclass(frozen=True)
class AuditContext:
    """What every audit row of one call shares: who or what made the changes."""

    source: str
    user_id: int | None = None
    import_job_id: int | None = None
    send_callbacks: bool = True

    def params(self) -> dict[str, Any]:
        """The named parameters :func:`status_changes_record_sql` refers to."""
        return {
            "audit_source": self.source,
            "audit_user_id": self.user_id,
            "audit_import_job_id": self.import_job_id,
            "audit_callbacks_suppressed": not self.send_callbacks,
        }


def status_changes_record_sql(
    *,
    changes: StatusChangeRows,
    send_callbacks: bool,
    tallied: TalliedColumns | None = None,
) -> str:
    """Three CTEs, ``audit``, ``deliveries`` (one row per outbox row written) and ``tally``,
    that record the changes of the relation ``changes``. Its ``id`` column is the audit row's
    id, drawn by the caller (``nextval`` of the audit table's sequence) so that every insert
    reads ``changes`` alone, with no join back; it also carries the changed conversion's offer,
    money and creation time (``tallied`` names those columns; an ``old_status`` of '' is a
    conversion's first status). Parameters: :meth:`AuditContext.params`."""
    c = changes
    tally = conversion_tally_deltas_insert_sql(changes=changes, tallied=tallied or TalliedColumns())
    deliveries = (
        callback_deliveries_insert_sql(status_changes=changes)
        if send_callbacks
        else "SELECT 1 WHERE false"
    )
    return f"""
        audit AS (
            INSERT INTO conversions_statuschange (
                id, conversion_id, old_status, new_status, source, user_id, import_job_id,
                reason, sequence_number, callbacks_suppressed, created_at)
            SELECT {c.id}, {c.conversion_id}, {c.old_status}, {c.new_status},
                   %(audit_source)s, %(audit_user_id)s, %(audit_import_job_id)s, {c.reason},
                   {c.sequence_number}, %(audit_callbacks_suppressed)s, {c.created_at}
            FROM {c.relation}
        ),
        deliveries AS ({deliveries}),
        tally AS ({tally})
    """  # noqa: S608 -- only our own relation and column names are interpolated


AUDIT_ID_SEQUENCE_SQL = "pg_get_serial_sequence('conversions_statuschange', 'id')::regclass"
