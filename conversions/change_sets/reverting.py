"""The change set of a revert, built from the audit rows of the job it reverts: each conversion
back to the status it had before, only where it still has the status that job set."""

# Table names are built from the job's integer id, never from input:
# ruff: noqa: S608

from __future__ import annotations

from conversions.change_sets.summary import ImportSummary, LeftAlone
from conversions.change_sets.tables import (
    StagingTables,
    execute,
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
    staging_changes_create(
        tables,
        select=f"""SELECT c.id, {back_to}, %(reason)s::text, c.status, c.offer_id,
               c.partner_id, c.payout, c.revenue, sc.new_status AS set_status
        FROM conversions_statuschange sc
        JOIN conversions_conversion c ON c.id = sc.conversion_id
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
            WHERE expected_status <> set_status ORDER BY conversion_id LIMIT {LEFT_ALONE_SHOWN}"""
        )
    ]
    ((changed, left),) = execute(
        f"""SELECT count(*) FILTER (WHERE expected_status = set_status),
                   count(*) FILTER (WHERE expected_status <> set_status)
            FROM {tables.changes}"""
    )
    execute(f"DELETE FROM {tables.changes} WHERE expected_status <> set_status")
    execute(f"ALTER TABLE {tables.changes} DROP COLUMN set_status")
    staging_changes_key(tables)
    will_change: dict[str, int] = {}
    unchanged = 0  # an uploaded conversion that is Rejected already
    for old, new, count in execute(
        f"""SELECT expected_status, status, count(*) FROM {tables.changes}
        GROUP BY 1, 2 ORDER BY 1, 2"""
    ):
        if old == new:
            unchanged += count
        else:
            will_change[f"{old}->{new}"] = count
    return ImportSummary(
        rows=changed + left,
        will_change=will_change,
        will_change_total=sum(will_change.values()),
        unchanged=unchanged,
        staged=changed,
        left_alone=left,
        left_alone_examples=left_alone,
        reader="audit rows",
    )
