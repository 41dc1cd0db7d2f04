"""The staging tables of one import job, and the set-based SQL that resolves and counts its rows.

Per job, four ``UNLOGGED`` tables named after it (no WAL for data that the file can always
rebuild; COPY fills them):

- ``rows``: one row per data row of the file as checked in Python (``StagedRow``);
- ``targets``: each valid row joined to the conversions it names, by its most specific id:
  EventId (one); else TransactionId with OfferId (one, through the unique index on the
  conversion's transaction id and offer; only for files with those columns); else gk_click_id
  alone (every conversion of that click: the fan-out). With the message when another id the row
  fills disagrees with the conversion (another click, transaction id or offer): such a row is
  refused whole, naming both;
- ``rejects``: one row per rejected row, with its kind (``invalid``, ``not_found``,
  ``conflicting``) and the message an admin reads;
- ``changes``: one row per conversion that an accepted row names, in the shape every job's
  change set has (``tables.CHANGE_COLUMNS``, which the status service's apply takes), with
  ``expected_status`` the status seen at validation, so that a conversion changed since the
  preview is left as it is.

Conflicts: a conversion asked for two different statuses (or amounts) by two rows rejects both
rows whole (with every other conversion a click-only row among them names), so a clash in a
fan-out never half-applies. Two rows asking for the same are fine; the first row's reason is
kept.

Amounts (files with ``Payout`` or ``Revenue``): a row's blank status keeps the conversion's, and
the change set's ``new_payout`` and ``new_revenue`` are set only where they differ from the
conversion's, so a row asking for what a conversion already has is ``unchanged``.

Validation drops all but ``changes``, which the apply uses and drops, in chunks of conversion
ids (a temporary view per chunk, ``staging_apply_view``).
"""

# Table names are built from the job's integer id, never from input:
# ruff: noqa: S608

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.core.files import File
from django.db import connection

from conversions.change_sets.job_state import local_path
from conversions.change_sets.summary import FanOut, ImportSummary, RowError
from conversions.change_sets.tables import (
    StagingTables,
    execute,
    staging_changes_counted,
    staging_changes_create,
    staging_drop,
)
from conversions.imports.reading.rows import file_rows
from conversions.imports.reading.types import Progress, UnusableFile
from conversions.imports.rows import COLUMN_LABELS, Columns, Staged, columns_find, row_checker
from conversions.models import ImportJob
from conversions.reports.csv_writer import csv_chunks
from conversions.reports.formulas import formula_escape_sql

ROW_COLUMNS = (
    "row_number",
    "gk_click_id",
    "event_id_text",
    "status_text",
    "reason",
    "event_id",
    "status",
    "error",
)
# Staged after ``ROW_COLUMNS`` by files with the advertiser's ids or amounts only
# (``rows.StagedIds`` and ``rows.StagedAmounts``).
ID_COLUMNS = ("transaction_id", "offer_id_text", "offer_id")
AMOUNT_COLUMNS = ("payout_text", "revenue_text", "new_payout", "new_revenue")
ERRORS_SHOWN = 50
ColumnsT = TypeVar("ColumnsT")
# Files of up to this many rows are joined to the conversions by index look-ups.
SMALL_FILE_ROWS = 100_000


def staging_rows_create(tables: StagingTables) -> None:
    staging_drop(tables)
    execute(
        f"""CREATE UNLOGGED TABLE {tables.rows} (
            row_number integer NOT NULL, gk_click_id text NOT NULL, event_id_text text NOT NULL,
            status_text text NOT NULL, reason text NOT NULL, event_id bigint,
            status varchar(16), error text, transaction_id text NOT NULL DEFAULT '',
            offer_id_text text NOT NULL DEFAULT '', offer_id bigint,
            payout_text text NOT NULL DEFAULT '', revenue_text text NOT NULL DEFAULT '',
            new_payout numeric(12, 4), new_revenue numeric(12, 4))"""
    )


def staging_rows_load(tables: StagingTables, rows: Iterable[Staged], *, full: bool = False) -> int:
    """Load the checked rows with COPY (``full``: each a ``StagedRow``, its ``StagedIds`` and
    its ``StagedAmounts``); returns how many."""
    count = 0
    columns = ", ".join(ROW_COLUMNS + ID_COLUMNS + AMOUNT_COLUMNS if full else ROW_COLUMNS)
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {tables.rows} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


@contextmanager
def _planner_settings(**settings: str) -> Iterator[None]:
    """PostgreSQL planner settings for the statements inside (``SET LOCAL``: inside a
    transaction), as they were afterwards."""
    if not settings:
        yield
        return
    names = list(settings)
    before = execute(f"SELECT {', '.join('current_setting(%s)' for _ in names)}", names)[0]
    for name, value in settings.items():
        execute("SELECT set_config(%s, %s, true)", [name, value])
    yield
    # Not on an error: the transaction is then rolled back, and these settings with it.
    for name, value in zip(names, before, strict=True):
        execute("SELECT set_config(%s, %s, true)", [name, value])


def staging_resolve(
    tables: StagingTables, *, rows: int, by_transaction: bool = False, with_amounts: bool = False
) -> None:
    """Join the rows to conversions, find the rejected ones and build the change set.

    ``rows``: how many rows were loaded. Up to ``SMALL_FILE_ROWS`` they are joined to the
    conversions and clicks by index look-ups, which PostgreSQL would not choose itself: it
    hashes the whole conversions table instead (measured for 65,535 rows against 2M
    conversions: 0.55 s against 0.23 s). For larger files a hash join is right (1M rows in
    random order: 2.5 s against 7.0 s by look-ups).

    ``by_transaction``: the file has the advertiser's ids, so rows may name their conversion by
    TransactionId and OfferId (otherwise that join is left out of the statement).

    ``with_amounts``: the file has an amount column, so rows may ask for new amounts and leave
    the status blank.
    """
    _targets_build(tables, rows=rows, by_transaction=by_transaction)
    execute(f"ANALYZE {tables.targets}")
    _rejects_build(tables, by_transaction=by_transaction, with_amounts=with_amounts)
    execute(f"ANALYZE {tables.rejects}")
    _changes_build(tables)


def _targets_build(tables: StagingTables, *, rows: int, by_transaction: bool) -> None:
    """Each valid row joined to the conversions it names (see ``staging_resolve``), with
    ``by_click`` 0 (by EventId), 1 (by gk_click_id) or 2 (by TransactionId)."""
    small = rows <= SMALL_FILE_ROWS
    if not small:
        execute(f"ANALYZE {tables.rows}")
    look_ups = {"enable_hashjoin": "off", "enable_mergejoin": "off"} if small else {}
    by_click_only = " AND r.transaction_id = ''" if by_transaction else ""
    with _planner_settings(**look_ups):
        execute(
            f"""CREATE UNLOGGED TABLE {tables.targets} AS
        SELECT r.row_number, c.id AS conversion_id, c.status AS current_status, c.offer_id,
               c.partner_id, c.payout, c.revenue, r.status, r.reason, r.new_payout,
               r.new_revenue, 0 AS by_click,
               CASE WHEN r.gk_click_id <> '' AND cl.gk_click_id <> r.gk_click_id
                    THEN 'EventId ' || c.id || ' belongs to click ' || cl.gk_click_id
                         || ', not to ' || r.gk_click_id || '.'
                    WHEN r.transaction_id <> '' AND c.transaction_id <> r.transaction_id
                    THEN 'EventId ' || c.id || CASE WHEN c.transaction_id = ''
                         THEN ' has no TransactionId' ELSE ' has TransactionId '
                         || c.transaction_id END || ', not ' || r.transaction_id || '.'
                    WHEN c.offer_id <> r.offer_id
                    THEN 'EventId ' || c.id || ' is on offer ' || c.offer_id
                         || ', not on offer ' || r.offer_id || '.'
               END AS mismatch
        FROM {tables.rows} r
        JOIN conversions_conversion c ON c.id = r.event_id
        JOIN conversions_click cl ON cl.id = c.click_id
        WHERE r.error IS NULL AND r.event_id IS NOT NULL
        UNION ALL{_BY_TRANSACTION.format(rows=tables.rows) if by_transaction else ""}
        SELECT r.row_number, c.id, c.status, c.offer_id, c.partner_id, c.payout, c.revenue,
               r.status, r.reason, r.new_payout, r.new_revenue, 1,
               CASE WHEN c.offer_id <> r.offer_id
                    THEN 'Click ' || r.gk_click_id || ' is on offer ' || c.offer_id
                         || ', not on offer ' || r.offer_id || '.'
               END
        FROM {tables.rows} r
        JOIN conversions_click cl ON cl.gk_click_id = r.gk_click_id
        JOIN conversions_conversion c ON c.click_id = cl.id
        WHERE r.error IS NULL AND r.event_id IS NULL{by_click_only}"""
        )


# Rows named by TransactionId and OfferId (files with those columns): the unique index on the
# conversion's (transaction_id, offer_id) where transaction_id <> '' (the condition repeated
# so that the planner may use that partial index).
_BY_TRANSACTION = """
        SELECT r.row_number, c.id, c.status, c.offer_id, c.partner_id, c.payout, c.revenue,
               r.status, r.reason, r.new_payout, r.new_revenue, 2,
               CASE WHEN r.gk_click_id <> '' AND cl.gk_click_id <> r.gk_click_id
                    THEN 'TransactionId ' || r.transaction_id || ' of offer ' || r.offer_id
                         || ' is EventId ' || c.id || ', of click ' || cl.gk_click_id
                         || ', not of ' || r.gk_click_id || '.'
               END
        FROM {rows} r
        JOIN conversions_conversion c ON c.transaction_id = r.transaction_id
             AND c.offer_id = r.offer_id AND c.transaction_id <> ''
        JOIN conversions_click cl ON cl.id = c.click_id
        WHERE r.error IS NULL AND r.event_id IS NULL AND r.transaction_id <> ''
        UNION ALL"""


def _rejects_build(tables: StagingTables, *, by_transaction: bool, with_amounts: bool) -> None:
    """The rejected rows: invalid, not found, or conflicting with another row."""
    execute(
        f"""CREATE UNLOGGED TABLE {tables.rejects} (
            row_number integer NOT NULL, kind varchar(16) NOT NULL, message text NOT NULL)"""
    )
    execute(
        f"""INSERT INTO {tables.rejects} (row_number, kind, message)
        SELECT row_number, 'invalid', error FROM {tables.rows} WHERE error IS NOT NULL
        UNION ALL
        SELECT row_number, 'invalid', MIN(mismatch) FROM {tables.targets}
        WHERE mismatch IS NOT NULL GROUP BY row_number
        UNION ALL
        SELECT r.row_number, 'not_found',
               CASE WHEN r.event_id IS NOT NULL
                    THEN 'No conversion has EventId ' || r.event_id || '.'
                    WHEN r.transaction_id <> ''
                    THEN 'No conversion of offer ' || r.offer_id || ' has TransactionId '
                         || r.transaction_id || '.'
                    ELSE 'No click has gk_click_id ' || r.gk_click_id
                         || ', or it has no conversions.'
               END
        FROM {tables.rows} r
        WHERE r.error IS NULL
          AND NOT EXISTS (SELECT 1 FROM {tables.targets} t WHERE t.row_number = r.row_number)"""
    )
    if by_transaction:
        # Never, by the unique constraint; said, should it ever be missing.
        execute(
            f"""INSERT INTO {tables.rejects} (row_number, kind, message)
            SELECT row_number, 'invalid', 'TransactionId matches ' || COUNT(*)
                   || ' conversions of its offer (EventIds ' || MIN(conversion_id) || ' to '
                   || MAX(conversion_id) || '); name the conversion by its EventId.'
            FROM {tables.targets} t WHERE by_click = 2 AND NOT EXISTS (
                SELECT 1 FROM {tables.rejects} x WHERE x.row_number = t.row_number)
            GROUP BY row_number HAVING COUNT(*) > 1"""
        )
    # A row names a conversion at most once, so COUNT(*) counts a conversion's rows, and
    # MIN <> MAX finds two statuses: plain aggregates, one pass (measured 1.6 s for 2M rows
    # where COUNT(DISTINCT ...) sorted them three times over). A blank status or amount is
    # a value of its own here: a row that keeps what another changes clashes with it.
    status_differs = "MIN(status) <> MAX(status)"
    amounts_differ = (
        " OR MIN(coalesce(new_payout, -1)) <> MAX(coalesce(new_payout, -1))"
        " OR MIN(coalesce(new_revenue, -1)) <> MAX(coalesce(new_revenue, -1))"
        " OR MIN(coalesce(status, '')) <> MAX(coalesce(status, ''))"
        if with_amounts
        else ""
    )
    execute(
        f"""INSERT INTO {tables.rejects} (row_number, kind, message)
        SELECT t.row_number, 'conflicting', MIN(
            'Conversion ' || t.conversion_id || ' is asked for different '
            || CASE WHEN k.statuses_differ THEN 'statuses' ELSE 'amounts' END || ' in this file '
            || CASE WHEN k.rows_count = 2
                    THEN '(rows ' || k.first_row || ' and ' || k.last_row || ')'
                    ELSE '(' || k.rows_count || ' rows, ' || k.first_row || ' to '
                         || k.last_row || ')'
               END
            || '; none of those rows is applied.')
        FROM {tables.targets} t
        JOIN (
            SELECT conversion_id, MIN(row_number) AS first_row, MAX(row_number) AS last_row,
                   COUNT(*) AS rows_count, {status_differs} AS statuses_differ
            FROM {tables.targets}
            WHERE mismatch IS NULL
            GROUP BY conversion_id
            HAVING {status_differs}{amounts_differ}
        ) k ON k.conversion_id = t.conversion_id
        WHERE t.mismatch IS NULL
        GROUP BY t.row_number"""
    )


def _changes_build(tables: StagingTables) -> None:
    """The change set: each conversion's first accepted row."""
    # Each conversion's first accepted row: one sort (DISTINCT ON, 1.8 s for 2M rows against
    # 3.7 s for a grouping joined back to the targets). The conversion's money, offer and
    # partner come along from the join above, for the preview's money (no second look-up).
    staging_changes_create(
        tables,
        select=f"""SELECT DISTINCT ON (t.conversion_id)
               t.conversion_id, coalesce(t.status, t.current_status), t.reason,
               t.current_status, t.offer_id, t.partner_id, t.payout, t.revenue,
               CASE WHEN t.new_payout <> t.payout THEN t.new_payout END,
               CASE WHEN t.new_revenue <> t.revenue THEN t.new_revenue END
        FROM {tables.targets} t
        WHERE NOT EXISTS (SELECT 1 FROM {tables.rejects} x WHERE x.row_number = t.row_number)
        ORDER BY t.conversion_id, t.row_number""",
    )
    execute(f"ANALYZE {tables.changes}")


def staging_counts(tables: StagingTables) -> ImportSummary:
    """The preview's counts (the validation part of the summary, but for the columns and the
    reader, which the caller knows)."""
    counted = staging_changes_counted(tables)
    rejected = dict(execute(f"SELECT kind, COUNT(*) FROM {tables.rejects} GROUP BY kind"))
    fan_out = [
        FanOut(offer=name, offer_id=offer_id, click_rows=click_rows, conversions=count)
        for offer_id, name, click_rows, count in execute(
            f"""SELECT o.id, o.name, COUNT(DISTINCT t.row_number), COUNT(*)
            FROM {tables.targets} t JOIN conversions_offer o ON o.id = t.offer_id
            WHERE t.by_click = 1 AND NOT EXISTS (
                SELECT 1 FROM {tables.rejects} x WHERE x.row_number = t.row_number)
            GROUP BY o.id, o.name ORDER BY COUNT(*) DESC, o.name"""
        )
    ]
    errors = [
        RowError(row=row, message=message)
        for row, message in execute(
            f"SELECT row_number, message FROM {tables.rejects}"
            f" ORDER BY row_number LIMIT {ERRORS_SHOWN}"
        )
    ]
    ((rows,),) = execute(f"SELECT COUNT(*) FROM {tables.rows}")
    ((staged,),) = execute(f"SELECT COUNT(*) FROM {tables.changes}")
    return ImportSummary(
        rows=rows,
        will_change=counted.will_change,
        will_change_total=sum(counted.will_change.values()),
        unchanged=counted.unchanged,
        not_found=rejected.get("not_found", 0),
        invalid=rejected.get("invalid", 0),
        conflicting=rejected.get("conflicting", 0),
        rejected_rows=sum(rejected.values()),
        fan_out=fan_out,
        errors=errors,
        staged=staged,
        amounts=counted.amounts,
    )


def rejected_rows_report_save(
    import_job: ImportJob,
    tables: StagingTables,
    *,
    headers: list[str],
    values: tuple[str, ...],
    file_name: str,
) -> Any:
    """Save the CSV of every rejected row as the job's report and return its name: row number,
    the file's values as written (``values``: the ``rows`` table's columns of them, in the
    order ``headers`` names them), the problem; UTF-8 with a byte order mark so that Excel opens
    it right, formula-like values escaped. PostgreSQL writes the rows (COPY), after the header
    line of the one CSV writer. A status file's and an upload's report alike."""
    escaped = ", ".join(formula_escape_sql(f"r.{column}") for column in values)
    sql = f"""COPY (
        SELECT x.row_number, {escaped}, x.message
        FROM {tables.rejects} x JOIN {tables.rows} r ON r.row_number = x.row_number
        ORDER BY x.row_number) TO STDOUT WITH (FORMAT csv)"""
    with tempfile.TemporaryFile() as out:
        out.write("".join(csv_chunks(["Row", *headers, "Problem"])).encode())
        with connection.cursor() as cursor, cursor.copy(sql) as copy:
            for block in copy:
                out.write(block)
        out.seek(0)
        import_job.error_report.save(file_name, File(out), save=False)
    return import_job.error_report.name


# --- a file job: its rows read, checked, staged and resolved -------------------------------


def file_job_stage(
    import_job: ImportJob, tables: StagingTables, progress: Progress
) -> tuple[ImportSummary, Any]:
    """Stage the file's rows, resolve them to a change set; the summary and the report of
    rejected rows."""
    with local_path(import_job.file) as path:
        columns, staged_rows = _rows_staged(path, import_job.file_format, progress)
        staging_rows_create(tables)
        rows = staging_rows_load(tables, staged_rows, full=columns.full)
        if rows == 0:
            raise UnusableFile(
                "The file has a header row but no data rows. Add one row per "
                "conversion (gk_click_id and/or EventId, Status) and upload it again."
            )
    staging_resolve(
        tables,
        rows=rows,
        by_transaction=columns.transaction_id is not None,
        with_amounts=columns.with_amounts,
    )
    summary = staging_counts(tables).replace(columns=columns.headers, reader=import_job.file_format)
    return summary, _report_save(import_job, tables, columns, summary)


def _rows_staged(
    path: str, file_format: str, progress: Progress
) -> tuple[Columns, Iterator[Staged]]:
    """The file's columns (from its header row) and its data rows, checked, lazily."""
    columns, rows = file_header_and_rows(
        path,
        file_format,
        progress,
        columns_find=columns_find,
        no_header="The file has no header row. Its first row must name the columns gk_click_id "
        "and/or EventId, Status, and optionally Reason.",
    )

    def staged() -> Iterator[Staged]:
        check = row_checker(columns)
        for row_number, cells in rows:
            row = check(row_number, cells)
            if row is not None:
                yield row

    return columns, staged()


def file_header_and_rows(
    path: str,
    file_format: str,
    progress: Progress,
    *,
    columns_find: Callable[[list[str]], ColumnsT],
    no_header: str,
) -> tuple[ColumnsT, Iterator[tuple[int, list[str]]]]:
    """The columns ``columns_find`` reads from the file's header row (its first row with
    anything in it) and the rows after it, read lazily; ``UnusableFile(no_header)`` when there
    is none."""
    rows = file_rows(path, file_format, progress=progress)
    for _, cells in rows:
        if any(cell.strip() for cell in cells[:1000]):
            return columns_find(cells), rows
    raise UnusableFile(no_header)


def _report_save(
    import_job: ImportJob,
    tables: StagingTables,
    columns: Columns,
    summary: ImportSummary,
) -> Any:
    if not summary.rejected_rows:
        return ""
    fields = ["gk_click_id", "event_id", "status", "reason"]
    fields += ["transaction_id", "offer_id"] if columns.with_ids else []
    fields += ["payout", "revenue"] if columns.with_amounts else []
    ids: tuple[str, ...] = ("transaction_id", "offer_id_text") if columns.with_ids else ()
    ids += ("payout_text", "revenue_text") if columns.with_amounts else ()
    return rejected_rows_report_save(
        import_job,
        tables,
        headers=[columns.headers.get(field, COLUMN_LABELS[field]) for field in fields],
        values=("gk_click_id", "event_id_text", "status_text", "reason", *ids),
        file_name=f"import-{import_job.pk}-rejected-rows.csv",
    )
