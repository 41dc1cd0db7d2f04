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

from django.db import connection

from callbacks.services import callback_deliveries_insert_sql, callback_owed_sql
from callbacks.status_change_rows import StatusChangeRows
from conversions.tally import conversion_tally_deltas_insert_sql


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


def status_changes_record_sql(*, changes: StatusChangeRows, send_callbacks: bool) -> str:
    """Three CTEs, ``audit``, ``deliveries`` (one row per outbox row written) and ``tally``,
    that record the changes of the relation ``changes`` (built by
    :meth:`StatusChangeRows.columns_sql`). Each audit row records whether its change owed a
    callback (the same rule the outbox insert applies). Parameters:
    :meth:`AuditContext.params`."""
    c = changes
    owed = (
        callback_owed_sql(partner="p", status=f"ch.{c.new_status}") if send_callbacks else "false"
    )
    tally = conversion_tally_deltas_insert_sql(changes=changes)
    deliveries = (
        callback_deliveries_insert_sql(status_changes=changes)
        if send_callbacks
        else "SELECT 1 WHERE false"
    )
    return f"""
        audit AS (
            INSERT INTO conversions_statuschange (
                id, conversion_id, old_status, new_status, source, user_id, import_job_id,
                reason, sequence_number, callbacks_suppressed, callback_owed, created_at)
            SELECT ch.{c.id}, ch.{c.conversion_id}, ch.{c.old_status}, ch.{c.new_status},
                   %(audit_source)s, %(audit_user_id)s, %(audit_import_job_id)s, ch.{c.reason},
                   ch.{c.sequence_number}, %(audit_callbacks_suppressed)s, {owed},
                   ch.{c.created_at}
            FROM {c.relation} ch JOIN callbacks_partner p ON p.id = ch.{c.partner_id}
        ),
        deliveries AS ({deliveries}),
        tally AS ({tally})
    """  # noqa: S608 -- only our own relation and column names are interpolated


AUDIT_ID_SEQUENCE_SQL = "pg_get_serial_sequence('conversions_statuschange', 'id')::regclass"


# --- proving the trail ----------------------------------------------------------------------


@dataclass(frozen=True)
class AuditProblem:
    """One break in the audit trail: which conversion (or audit row) and what is wrong."""

    conversion_id: int
    message: str


# One pass over the audit rows in their index order: each conversion's rows must be numbered
# 1, 2, 3…, start from no status, each old status the previous new one; the last new status
# and number must be the conversion's status and change counter; and a conversion without any
# audit row is a break too.
_CHAIN_SQL = """
    WITH steps AS (
        SELECT conversion_id, sequence_number, new_status,
               CASE WHEN lag(sequence_number) OVER w IS NULL
                    THEN sequence_number = 1 AND old_status = ''
                    ELSE sequence_number = lag(sequence_number) OVER w + 1
                         AND old_status = lag(new_status) OVER w
               END AS chained,
               lead(sequence_number) OVER w IS NULL AS is_last
        FROM conversions_statuschange
        WINDOW w AS (PARTITION BY conversion_id ORDER BY sequence_number)
    ),
    trails AS (
        SELECT conversion_id, bool_and(chained) AS chained, count(*) AS steps,
               max(sequence_number) AS last_number,
               max(new_status) FILTER (WHERE is_last) AS last_status
        FROM steps GROUP BY conversion_id
    )
    SELECT coalesce(c.id, t.conversion_id),
           CASE WHEN t.conversion_id IS NULL THEN 'has no audit rows'
                WHEN c.id IS NULL THEN 'has audit rows but no longer exists'
                WHEN NOT t.chained THEN 'audit rows do not form a chain (a number is missing or '
                     || 'repeated, or an old status is not the previous new status)'
                WHEN t.last_status <> c.status THEN 'is ' || c.status
                     || ' but its last audit row says ' || t.last_status
                ELSE 'has change counter ' || c.status_version || ' but ' || t.last_number
                     || ' audit rows'
           END
    FROM conversions_conversion c FULL JOIN trails t ON t.conversion_id = c.id
    WHERE t.conversion_id IS NULL OR c.id IS NULL OR NOT t.chained
       OR t.last_status <> c.status OR t.last_number <> c.status_version
    ORDER BY 1
    LIMIT %(limit)s
"""

_OUTBOX_SQL = """
    SELECT sc.conversion_id,
           'change ' || sc.sequence_number || ' (' || sc.new_status
           || ') owed the partner a callback, but it has no outbox row'
    FROM conversions_statuschange sc
    WHERE sc.callback_owed
      AND NOT EXISTS (SELECT 1 FROM callbacks_callbackdelivery d WHERE d.status_change_id = sc.id)
    UNION ALL
    SELECT d.conversion_id,
           'callback ' || d.id || ' has no status change to be owed for'
    FROM callbacks_callbackdelivery d
    WHERE NOT EXISTS (SELECT 1 FROM conversions_statuschange sc WHERE sc.id = d.status_change_id)
    ORDER BY 1
    LIMIT %(limit)s
"""


def audit_verify(*, limit: int = 50) -> list[AuditProblem]:
    """The first ``limit`` problems of the audit trail, set-based over every conversion: an
    empty list when each conversion's audit rows form an unbroken chain ending in its status,
    and every change that owed a callback has its outbox row."""
    problems: list[AuditProblem] = []
    with connection.cursor() as cursor:
        for sql in (_CHAIN_SQL, _OUTBOX_SQL):
            cursor.execute(sql, {"limit": limit - len(problems)})
            problems += [AuditProblem(conversion_id, message) for conversion_id, message in cursor]
            if len(problems) >= limit:
                break
    return problems
