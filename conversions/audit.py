"""The audit trail's one writer: the SQL that records status changes and the callbacks they owe,
and the check that proves the trail (:func:`audit_verify`).

Every status change, whatever its source (a postback's first status, an admin, an import, a
revert, the pending-time promotion), is first made as a relation of *changes* inside one
statement (``callbacks.status_change_rows``), then recorded from it by
:func:`status_changes_record_sql`: one ``StatusChange`` audit row each, and one
``CallbackDelivery`` outbox row where the change owes the partner a callback (the rule is
``callbacks.services.callback_owed_sql``). Both inserts read the same relation in the same
statement, so an audit row never exists without the outbox row it owes, nor the reverse. The
same statement keeps the conversion tally exact (``conversions.tally``): -1 for each old status,
+1 for each new one, in one small insert per statement.

The trail proves itself. Each audit row carries ``chain_hash``, a SHA-256 over its own fields
(conversion, number, old and new status, source, user, import job, whether callbacks were
suppressed and whether one was owed, time, the payout and revenue the change left, reason) and
the hash of its conversion's previous row: the database function
``conversions_status_change_hash`` (migrations 0015 and 0027), the one definition that the
writers, the backfill and :func:`audit_verify` call. The previous hash is
kept on the conversion row (``audit_chain_hash``), which every change already locks, reads and
rewrites: extending the chain reads nothing more, where looking up the previous audit row by
(conversion, number - 1) would cost a million index probes and scattered heap reads on a
million-row apply. The hash is computed in the statement that writes the conversion (the
service's UPDATE, the postback's INSERT) and travels in the changes relation to the audit row.

Amounts: every audit row records the conversion's payout and revenue as its change left them
(migration 0027, the encoding's version 2), whether or not the change moved them; a change's old
amounts are its previous row's. So the chain proves the amounts as it proves the statuses, and
:func:`audit_verify` names a conversion whose amounts are not its last audit row's. Rows
written before 0027 have none (version 1); a conversion's amounts are proved from its first row
that has them.

The database refuses every UPDATE and DELETE of audit rows and every DELETE of a conversion
(triggers, migration 0015), so the trail can only be rewritten, or a conversion removed with
its rows, by someone who may disable triggers (the tables' owner or a superuser), on purpose.
A rewrite that does not recompute the hashes is then found by :func:`audit_verify`, which
names the first row that does not match; one that recomputes them, or a deletion made with
the triggers off, is beyond what the database can prove about itself.
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
    :meth:`StatusChangeRows.columns_sql`, its ``callback_owed`` by :func:`callback_owed_sql_for`
    and its ``chain_hash`` by :func:`status_change_hash_sql`). Parameters:
    :meth:`AuditContext.params`."""
    c = changes
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
                reason, sequence_number, callbacks_suppressed, callback_owed, created_at,
                chain_hash, payout, revenue)
            SELECT ch.{c.id}, ch.{c.conversion_id}, ch.{c.old_status}, ch.{c.new_status},
                   %(audit_source)s, %(audit_user_id)s, %(audit_import_job_id)s, ch.{c.reason},
                   ch.{c.sequence_number}, %(audit_callbacks_suppressed)s, ch.{c.callback_owed},
                   ch.{c.created_at}, ch.{c.chain_hash}, ch.{c.payout}, ch.{c.revenue}
            FROM {c.relation} ch
        ),
        deliveries AS ({deliveries}),
        tally AS ({tally})
    """  # noqa: S608 -- only our own relation and column names are interpolated


def callback_owed_sql_for(*, partner: str, status: str) -> str:
    """Whether a change to ``status`` (an SQL expression) made by this call owes ``partner``
    (an alias of ``callbacks_partner``) a callback: the partner's rule, unless the call
    suppresses callbacks. Computed once per change, where the change is made, and carried to
    the audit row, its hash and the outbox insert. Parameters: :meth:`AuditContext.params`."""
    rule = callback_owed_sql(partner=partner, status=status)
    return f"(NOT %(audit_callbacks_suppressed)s::boolean AND {rule})"


def status_change_hash_sql(
    *,
    conversion_id: str,
    sequence_number: str,
    old_status: str,
    new_status: str,
    reason: str,
    created_at: str,
    callback_owed: str,
    previous_hash: str,
    payout: str,
    revenue: str,
) -> str:
    """The SQL expression of one change's link in its conversion's hash chain, from the SQL
    expressions of its fields (``payout`` and ``revenue``: the amounts the change leaves) and of
    the previous link (``NULL`` for a first status); the
    source, user, import job and callbacks switch are this call's (:meth:`AuditContext.params`).
    The expressions must be the values the audit row gets, or :func:`audit_verify` will say
    the row does not match."""
    return f"""conversions_status_change_hash(
        conversion_id => {conversion_id}, sequence_number => {sequence_number},
        old_status => {old_status}, new_status => {new_status},
        source => %(audit_source)s::text, user_id => %(audit_user_id)s::bigint,
        import_job_id => %(audit_import_job_id)s::bigint,
        callbacks_suppressed => %(audit_callbacks_suppressed)s::boolean,
        callback_owed => {callback_owed}, created_at => {created_at}, reason => {reason},
        previous_hash => {previous_hash}, payout => {payout}, revenue => {revenue})"""


def amounts_before_join_sql(*, change: str, otherwise: tuple[str, str]) -> str:
    """The joins that give ``b`` (``b.payout``, ``b.revenue``): the amounts a conversion had
    before the audit row ``change`` (an alias) changed it, which are its previous row's (each row
    records the amounts its change left); ``otherwise`` (SQL expressions of the payout and the
    revenue) where that row was written before audit rows recorded amounts."""
    return f"""LEFT JOIN conversions_statuschange before_change
            ON before_change.conversion_id = {change}.conversion_id
           AND before_change.sequence_number = {change}.sequence_number - 1
        CROSS JOIN LATERAL (
            SELECT coalesce(before_change.payout, {otherwise[0]}) AS payout,
                   coalesce(before_change.revenue, {otherwise[1]}) AS revenue) b"""


AUDIT_ID_SEQUENCE_SQL = "pg_get_serial_sequence('conversions_statuschange', 'id')::regclass"


def first_status_sql(
    changes: StatusChangeRows, *, conversion_id: str, sequence_number: str, created_at: str
) -> tuple[str, str]:
    """A new conversion's first status change (the postback's insert, an upload's apply): the
    select list of ``changes`` read from the inserted row ``c`` (old status empty, the audit
    row's id drawn here), and the SQL of the first link of its hash chain, over the new
    conversion ``n`` (its ``status``, ``reason``, ``callback_owed``, ``payout`` and
    ``revenue``) and the given
    expressions of its id, counter and time."""
    columns = changes.columns_sql(
        conversion="c",
        old_status="''::varchar",
        audit_id=f"nextval({AUDIT_ID_SEQUENCE_SQL})",
        callback_owed="n.callback_owed",
    )
    chain_hash = status_change_hash_sql(
        conversion_id=conversion_id,
        sequence_number=sequence_number,
        old_status="''",
        new_status="n.status",
        reason="n.reason",
        created_at=created_at,
        callback_owed="n.callback_owed",
        previous_hash="NULL",
        payout="n.payout",
        revenue="n.revenue",
    )
    return columns, chain_hash


# --- proving the trail ----------------------------------------------------------------------


@dataclass(frozen=True)
class AuditProblem:
    """One break in the audit trail: which conversion (or audit row) and what is wrong."""

    conversion_id: int
    message: str


# One pass over the audit rows in their index order: each conversion's rows must be numbered
# 1, 2, 3…, start from no status, each old status the previous new one; each row's hash must be
# the one its fields and the previous row's hash give (so a row rewritten without its hash, or
# whose predecessor's hash changed, is found); the last new status, number, amounts (when it
# records them) and hash must be the conversion's status, change counter, payout and revenue and
# kept hash; and a conversion without any audit row is a break too.
_CHAIN_SQL = """
    WITH steps AS (
        SELECT conversion_id, sequence_number, new_status, chain_hash,
               CASE WHEN lag(sequence_number) OVER w IS NULL
                    THEN sequence_number = 1 AND old_status = ''
                    ELSE sequence_number = lag(sequence_number) OVER w + 1
                         AND old_status = lag(new_status) OVER w
               END AS chained,
               chain_hash IS NOT DISTINCT FROM conversions_status_change_hash(
                   conversion_id => conversion_id, sequence_number => sequence_number,
                   old_status => old_status, new_status => new_status, source => source,
                   user_id => user_id, import_job_id => import_job_id,
                   callbacks_suppressed => callbacks_suppressed, callback_owed => callback_owed,
                   created_at => created_at, reason => reason,
                   previous_hash => lag(chain_hash) OVER w, payout => payout,
                   revenue => revenue) AS hashed,
               payout, revenue,
               lead(sequence_number) OVER w IS NULL AS is_last
        FROM conversions_statuschange
        WINDOW w AS (PARTITION BY conversion_id ORDER BY sequence_number)
    ),
    trails AS (
        SELECT conversion_id, bool_and(chained) AS chained, count(*) AS steps,
               max(sequence_number) AS last_number,
               min(sequence_number) FILTER (WHERE NOT hashed) AS first_unhashed,
               max(new_status) FILTER (WHERE is_last) AS last_status,
               (array_agg(chain_hash) FILTER (WHERE is_last))[1] AS last_hash,
               bool_or(is_last AND payout IS NOT NULL) AS last_has_amounts,
               max(payout) FILTER (WHERE is_last) AS last_payout,
               max(revenue) FILTER (WHERE is_last) AS last_revenue
        FROM steps GROUP BY conversion_id
    )
    SELECT coalesce(c.id, t.conversion_id),
           CASE WHEN t.conversion_id IS NULL THEN 'has no audit rows'
                WHEN c.id IS NULL THEN 'has audit rows but no longer exists'
                WHEN NOT t.chained THEN 'audit rows do not form a chain (a number is missing or '
                     || 'repeated, or an old status is not the previous new status)'
                WHEN t.first_unhashed IS NOT NULL THEN 'audit row ' || t.first_unhashed
                     || ' does not match its hash (it, or the row before it, was changed after '
                     || 'it was written)'
                WHEN t.last_status <> c.status THEN 'is ' || c.status
                     || ' but its last audit row says ' || t.last_status
                WHEN t.last_number <> c.status_version THEN 'has change counter '
                     || c.status_version || ' but ' || t.last_number || ' audit rows'
                WHEN t.last_has_amounts AND (t.last_payout <> c.payout
                     OR t.last_revenue <> c.revenue) THEN 'has payout ' || c.payout
                     || ' and revenue ' || c.revenue || ' but its last audit row says '
                     || t.last_payout || ' and ' || t.last_revenue
                ELSE 'keeps a hash that is not its last audit row''s (audit row '
                     || t.last_number || ')'
           END
    FROM conversions_conversion c FULL JOIN trails t ON t.conversion_id = c.id
    WHERE t.conversion_id IS NULL OR c.id IS NULL OR NOT t.chained
       OR t.first_unhashed IS NOT NULL OR t.last_status <> c.status
       OR t.last_number <> c.status_version OR t.last_hash <> c.audit_chain_hash
       OR (t.last_has_amounts AND (t.last_payout <> c.payout OR t.last_revenue <> c.revenue))
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
    """The first ``limit`` problems of the audit trail, set-based over every conversion (in
    conversion order): an empty list when each conversion's audit rows form an unbroken chain
    ending in its status, each row matches its hash, and every change that owed a callback has
    its outbox row. A row that does not match its hash is named by its conversion and number."""
    problems: list[AuditProblem] = []
    with connection.cursor() as cursor:
        for sql in (_CHAIN_SQL, _OUTBOX_SQL):
            cursor.execute(sql, {"limit": limit - len(problems)})
            problems += [AuditProblem(conversion_id, message) for conversion_id, message in cursor]
            if len(problems) >= limit:
                break
    return problems
