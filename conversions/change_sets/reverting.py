"""The change set of a revert, built from the audit rows of the job it reverts: each conversion
back to the status (and, for a job that changed them, the amounts) it had before, only where it
still has the status and amounts that job set.

The amounts before are the previous audit row's (each row records the amounts its change left);
for a conversion whose previous row was written before audit rows recorded amounts, they are
the ones the reverted job's kept change set found (no audited change of amounts can have come
between)."""

# Table names are built from the job's integer id, never from input:
# ruff: noqa: S608

from __future__ import annotations

from conversions.audit import amounts_before_join_sql
from conversions.change_sets.outcomes import outcomes_table
from conversions.change_sets.summary import ImportSummary, LeftAlone
from conversions.change_sets.tables import (
    StagingTables,
    execute,
    staging_changes_counted,
    staging_changes_create,
    staging_changes_key,
)
from conversions.models import ImportJob, Status

LEFT_ALONE_SHOWN = 50


def revert_stage(tables: StagingTables, *, reverted: ImportJob) -> ImportSummary:
    """Build the change set that puts back what ``reverted`` changed, from its audit rows: each
    conversion back to the status it had before, only where it still has the status the job
    set (the others are counted and listed as left alone). Returns the preview's summary."""
    # The change set's columns, then the status the reverted job set (dropped below). The
    # conversions an upload created had no status before: its revert rejects them (nothing is
    # ever deleted).
    back_to = "%(rejected)s::varchar" if reverted.kind == ImportJob.Kind.UPLOAD else "sc.old_status"
    reverted_summary = ImportSummary.from_json(reverted.summary)
    amounts: tuple[str, ...] = ("NULL::numeric", "NULL::numeric")
    still_as_set = "c.status = sc.new_status"
    before = ""
    if reverted_summary is not None and reverted_summary.amounts:
        amounts = tuple(
            f"CASE WHEN b.{name} <> sc.{name} THEN b.{name} END" for name in ("payout", "revenue")
        )
        still_as_set += " AND c.payout = sc.payout AND c.revenue = sc.revenue"
        before = _amounts_before_join(reverted)
    staging_changes_create(
        tables,
        select=f"""SELECT c.id, {back_to}, %(reason)s::text, c.status, c.offer_id,
               c.partner_id, c.payout, c.revenue, {amounts[0]}, {amounts[1]},
               {still_as_set} AS still_as_set
        FROM conversions_statuschange sc
        JOIN conversions_conversion c ON c.id = sc.conversion_id
        {before}
        WHERE sc.import_job_id = %(job)s""",
        params={
            "job": reverted.pk,
            "reason": f"Revert of {reverted.get_kind_display().lower()} {reverted.pk}",
            "rejected": Status.REJECTED,
        },
        primary_key=False,
    )
    execute(f"ANALYZE {tables.changes}")
    left_alone = [
        LeftAlone(conversion_id=conversion_id, status=status)
        for conversion_id, status in execute(
            f"""SELECT conversion_id, expected_status FROM {tables.changes}
            WHERE NOT still_as_set ORDER BY conversion_id LIMIT {LEFT_ALONE_SHOWN}"""
        )
    ]
    ((changed, left),) = execute(
        f"""SELECT count(*) FILTER (WHERE still_as_set), count(*) FILTER (WHERE NOT still_as_set)
            FROM {tables.changes}"""
    )
    execute(f"DELETE FROM {tables.changes} WHERE NOT still_as_set")
    execute(f"ALTER TABLE {tables.changes} DROP COLUMN still_as_set")
    staging_changes_key(tables)
    # Unchanged: an uploaded conversion that is Rejected already.
    counted = staging_changes_counted(tables)
    return ImportSummary(
        rows=changed + left,
        will_change=counted.will_change,
        will_change_total=sum(counted.will_change.values()),
        unchanged=counted.unchanged,
        staged=changed,
        left_alone=left,
        left_alone_examples=left_alone,
        amounts=counted.amounts,
        reader="audit rows",
    )


def _amounts_before_join(reverted: ImportJob) -> str:
    """The join that gives ``b``, the amounts each conversion had before ``reverted`` changed
    it: its previous audit row's, else (a row written before audit rows recorded amounts) the
    amounts the job's kept change set found."""
    kept = outcomes_table(reverted.pk)
    ((exists,),) = execute("SELECT to_regclass(%s) IS NOT NULL", [kept])
    found = (
        f"LEFT JOIN {kept} o ON o.conversion_id = sc.conversion_id"
        if exists
        else "LEFT JOIN (SELECT NULL::bigint AS conversion_id, NULL::numeric AS payout,"
        " NULL::numeric AS revenue) o ON false"
    )
    return f"{found}\n        " + amounts_before_join_sql(
        change="sc", otherwise=("o.payout", "o.revenue")
    )
