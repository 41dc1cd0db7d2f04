"""A change set's per-row outcomes, kept as long as its job: what became of each row a source
staged. Read by the Management API (``GET /api/v1/change-sets/{id}/outcomes``).

- **Rejected rows** (a file's, or an API body's, which is staged as a file): the job's report of
  rejected rows (``ImportJob.error_report``, a CSV kept with the job), with each row's number,
  its values as written and the reason.
- **The conversions of the change set**: while the job waits for confirmation, from its staged
  change set (``will_change``, or ``unchanged``: it already has that status). The apply keeps
  the change set as the job's outcomes table (``import_job_<id>_outcomes``: the ``changes``
  table renamed in the apply's own transaction, so it exists exactly when the job is applied,
  at no cost of writing), and a dry run closed as ``checked`` keeps it too. Once applied, a
  conversion is ``changed`` when the job's audit rows changed it (old and new status from
  them), ``unchanged`` when it already had the status, and ``left_alone`` when its status
  changed between the check and the apply (it was not touched).
  A job applied without a kept change set (the selected-rows action applied at once, a job
  applied before outcomes were kept, or one whose table a database crash emptied: it stays
  ``UNLOGGED``, as the change set was, rather than be written a second time) lists what its
  audit rows changed: the rows that changed are always there, in the audit trail.

Pages run in order: the rejected rows by row number, then the conversions by id. A position is
``(section, key)``: ``(0, last row number)`` or ``(1, last conversion id)``.
"""

# Table names are built from the job's integer id, never from input:
# ruff: noqa: S608

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import OperationalError, transaction

from conversions.amounts import amount
from conversions.change_sets import job_state
from conversions.change_sets.tables import StagingTables, changes_sql, execute
from conversions.models import ImportJob
from conversions.reports.formulas import formula_unescape

REJECTED, CONVERSIONS = 0, 1


def outcomes_table(import_job_id: int) -> str:
    return f"import_job_{int(import_job_id)}_outcomes"


def change_set_outcomes_keep(tables: StagingTables) -> None:
    """Keep the job's change set as its outcomes table (in the caller's transaction: the apply's
    or the dry run's close). Nothing to keep when it is gone."""
    execute(f"DROP TABLE IF EXISTS {outcomes_table(tables.job_id)}")
    if _exists(tables.changes):
        execute(f"ALTER TABLE {tables.changes} RENAME TO {outcomes_table(tables.job_id)}")


@dataclass(frozen=True)
class Outcome:
    """One rejected row (``row``, the values as written, ``message``), or one conversion of the
    change set (``conversion_id``; ``old_status`` it had, ``new_status`` asked for)."""

    outcome: str  # rejected, will_change, unchanged, changed, left_alone
    row: int | None = None
    conversion_id: int | None = None
    gk_click_id: str = ""
    event_id: str = ""
    old_status: str = ""
    new_status: str = ""
    reason: str = ""
    message: str = ""
    # The amounts the change sets ("" where they stay).
    new_payout: str = ""
    new_revenue: str = ""

    @property
    def position(self) -> tuple[int, int]:
        if self.outcome == "rejected":
            return (REJECTED, self.row or 0)
        return (CONVERSIONS, self.conversion_id or 0)


class OutcomesBusy(Exception):
    """The job is being applied right now: its outcomes can be read once it is."""


def change_set_outcomes_page(
    *, import_job: ImportJob, after: tuple[int, int] | None, limit: int
) -> tuple[list[Outcome], tuple[int, int] | None]:
    """Up to ``limit`` outcomes after position ``after`` (``None``: from the start), and the
    position of the next page (``None`` on the last). Raises ``OutcomesBusy`` while the job is
    being applied."""
    section, key = after or (REJECTED, 0)
    page: list[Outcome] = []
    if section == REJECTED:
        page = list(_rejected(import_job, after_row=key, limit=limit + 1))
        section, key = CONVERSIONS, 0
    if len(page) <= limit:
        page += _conversions(import_job, after_id=key, limit=limit + 1 - len(page))
    more = len(page) > limit
    page = page[:limit]
    return page, (page[-1].position if more and page else None)


def change_set_outcomes_all(import_job: ImportJob, *, batch: int = 5000) -> Iterator[Outcome]:
    """Every outcome, in order (batch by batch)."""
    position: tuple[int, int] | None = None
    while True:
        page, position = change_set_outcomes_page(
            import_job=import_job, after=position, limit=batch
        )
        yield from page
        if position is None:
            return


def _rejected(import_job: ImportJob, *, after_row: int, limit: int) -> Iterator[Outcome]:
    """The rejected rows after ``after_row``, from the job's report (row, values, problem)."""
    if not import_job.error_report:
        return
    with (
        job_state.local_path(import_job.error_report) as path,
        open(path, encoding="utf-8-sig", newline="") as report,
    ):
        lines = csv.reader(report)
        next(lines, None)  # the header
        found = 0
        # Row, the file's values as written, Problem: a status file's click, EventId, Status
        # and Reason come first (its TransactionId and OfferId, when it has them, after); an
        # upload's Status and Reason follow its UserCompletedAt, amounts and TransactionId.
        click_at, event_at, status_at, reason_at = (
            (1, 2, 7, 8) if import_job.kind == ImportJob.Kind.UPLOAD else (1, 2, 3, 4)
        )
        for line in lines:
            number = int(line[0])
            if number <= after_row:
                continue
            yield Outcome(
                outcome="rejected",
                row=number,
                gk_click_id=formula_unescape(line[click_at]),
                event_id=formula_unescape(line[event_at]),
                new_status=formula_unescape(line[status_at]),
                reason=formula_unescape(line[reason_at]),
                message=line[-1],
            )
            found += 1
            if found >= limit:
                return


_KEPT_SQL = f"""
    SELECT o.conversion_id, cl.gk_click_id, o.expected_status, o.status, o.reason,
           sc.old_status, sc.new_status, {changes_sql("o")}, o.new_payout, o.new_revenue
    FROM {{table}} o
    {{click_join}}
    LEFT JOIN conversions_statuschange sc
      ON sc.conversion_id = o.conversion_id AND sc.import_job_id = %(job)s
    WHERE o.conversion_id > %(after)s
    ORDER BY o.conversion_id
    LIMIT %(limit)s
"""
_AUDITED_SQL = """
    SELECT sc.conversion_id, cl.gk_click_id, sc.old_status, sc.new_status, sc.reason,
           sc.old_status, sc.new_status, true, NULL, NULL
    FROM conversions_statuschange sc
    JOIN conversions_conversion c ON c.id = sc.conversion_id
    JOIN conversions_click cl ON cl.id = c.click_id
    WHERE sc.import_job_id = %(job)s AND sc.conversion_id > %(after)s
    ORDER BY sc.conversion_id
    LIMIT %(limit)s
"""


def _conversions(import_job: ImportJob, *, after_id: int, limit: int) -> list[Outcome]:
    if import_job.state == ImportJob.State.APPLYING:
        raise OutcomesBusy
    # An upload's change set names the click of each conversion it creates (which may not
    # exist yet); any other's names conversions.
    click_join = (
        "JOIN conversions_click cl ON cl.id = o.click_id"
        if import_job.kind == ImportJob.Kind.UPLOAD
        else "JOIN conversions_conversion c ON c.id = o.conversion_id"
        " JOIN conversions_click cl ON cl.id = c.click_id"
    )
    kept = outcomes_table(import_job.pk)
    staged = StagingTables(import_job.pk).changes
    params = {"job": import_job.pk, "after": after_id, "limit": limit}
    try:
        with transaction.atomic():
            # The apply renames the change set as it commits: wait a moment, not for the apply.
            execute("SET LOCAL lock_timeout = '2s'")
            if _exists(kept) and (_has_rows(kept) or not _applied(import_job)):
                rows = execute(_KEPT_SQL.format(table=kept, click_join=click_join), params)
            elif _exists(staged):
                rows = execute(_KEPT_SQL.format(table=staged, click_join=click_join), params)
            elif _applied(import_job):
                rows = execute(_AUDITED_SQL, params)
            else:
                rows = []
    except OperationalError as error:
        raise OutcomesBusy from error
    return [_conversion_outcome(row, applied=_applied(import_job)) for row in rows]


def _conversion_outcome(row: tuple[Any, ...], *, applied: bool) -> Outcome:
    conversion_id, gk_click_id, expected, status, reason, audited_old, audited_new, changes = row[
        :8
    ]
    new_payout, new_revenue = ("" if value is None else amount(value) for value in row[8:])
    if not changes:
        outcome, old, message = "unchanged", expected, "It already had this status."
    elif audited_new is not None:
        outcome, old, status, message = "changed", audited_old, audited_new, ""
    elif applied and not expected:  # an upload's row a postback's conversion took over
        outcome, old = "left_alone", expected
        message = (
            "A conversion of this click's event (or this transaction id) was recorded after "
            "the check, so this one was not."
        )
    elif applied:
        outcome, old = "left_alone", expected
        message = "Its status changed after the check, so it was left as it is."
    else:
        outcome, old, message = "will_change", expected, ""
    return Outcome(
        outcome=outcome,
        conversion_id=conversion_id,
        gk_click_id=gk_click_id,
        event_id=str(conversion_id),
        old_status=old,
        new_status=status,
        reason=reason,
        message=message,
        new_payout=new_payout,
        new_revenue=new_revenue,
    )


def _applied(import_job: ImportJob) -> bool:
    return import_job.state == ImportJob.State.APPLIED


def _has_rows(table: str) -> bool:
    ((found,),) = execute(f"SELECT EXISTS (SELECT 1 FROM {table})")
    return bool(found)


def _exists(table: str) -> bool:
    ((found,),) = execute("SELECT to_regclass(%s) IS NOT NULL", [table])
    return bool(found)
