"""The staging of a conversion upload (conversions that tracking missed): its rows, checked in
Python (``upload_rows``), resolved set-based to the click, offer and event each names, refused
where a postback would be, and turned into the job's change set of new conversions.

Tables (``UNLOGGED``, named after the job, like a status file's): ``rows`` (the checked rows),
``targets`` (each valid row with its click, offer and event), ``rejects`` (one row per refused
row: ``invalid``, ``not_found`` or ``conflicting``, and the message) and ``changes``. The change
set has the shape every job's has (``tables.CHANGE_COLUMNS``): ``conversion_id`` is the id the
new conversion will get (drawn from the conversions' sequence now, so that the apply's chunks
and the per-row outcomes have a key), ``expected_status`` is empty (no status before), and the
new conversion's own columns follow (``NEW_CONVERSION_COLUMNS``).

A row is refused, naming why, for: an unknown click; an event code the click's offer does not
have, or none on an offer with several events; a completion before the click (or in the future,
``upload_rows``); a click that already has a conversion of that event, or a transaction id
already used on the offer (a postback's duplicate rules, on their unique indexes); and the same
within the file, where the first row is kept and each later one is refused naming it.

Without a ``Status`` a row gets what the offer gives a postback at that time
(``conversions.tracking``'s rules): Rejected if the offer is inactive or the completion falls
outside its attribution window, Pending for a manual offer or one with a pending time (its
pending time then runs from the apply), else Success.
"""

# Table names are built from the job's integer id, never from input:
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.db import connection
from django.utils import timezone

from conversions.change_sets.job_state import local_path
from conversions.change_sets.summary import ImportSummary, RowError
from conversions.change_sets.tables import (
    StagingTables,
    execute,
    staging_changes_create,
    staging_drop,
)
from conversions.imports.reading.types import Progress, UnusableFile
from conversions.imports.staging import file_header_and_rows, rejected_rows_report_save
from conversions.imports.upload_rows import (
    UPLOAD_COLUMN_LABELS,
    UPLOAD_ROW_COLUMNS,
    UploadColumns,
    UploadRow,
    upload_columns_find,
    upload_row_checker,
)
from conversions.models import ImportJob, Offer, Status

# The new conversion's columns in the change set, after ``CHANGE_COLUMNS``.
NEW_CONVERSION_COLUMNS = (
    "click_id",
    "offer_event_id",
    "created_at",
    "transaction_id",
    "pending_time",
    "row_number",
)
ERRORS_SHOWN = 50
# The report's columns, in the upload's order.
_REPORT_FIELDS = (
    "gk_click_id",
    "event_code",
    "completed_at",
    "revenue",
    "payout",
    "transaction_id",
    "status",
    "reason",
)
_REPORT_TEXTS = (
    "gk_click_id",
    "event_code",
    "completed_at_text",
    "revenue_text",
    "payout_text",
    "transaction_id",
    "status_text",
    "reason",
)


def upload_job_stage(
    import_job: ImportJob, tables: StagingTables, progress: Progress
) -> tuple[ImportSummary, Any]:
    """Stage the upload's rows and resolve them to a change set of new conversions; the
    summary and the report of refused rows."""
    now = timezone.now()
    with local_path(import_job.file) as path:
        columns, rows = _rows_staged(path, import_job.file_format, progress, now=now)
        _rows_create(tables)
        count = _rows_load(tables, rows)
        if count == 0:
            raise UnusableFile(
                "The file has a header row but no data rows. Add one row per conversion "
                "(ClickId, EventID, UserCompletedAt, Revenue, Reward) and upload it again."
            )
    execute(f"ANALYZE {tables.rows}")
    _targets_build(tables)
    _rejects_build(tables)
    _changes_build(tables)
    summary = _counts(tables).replace(columns=columns.headers, reader=import_job.file_format)
    return summary, _report_save(import_job, tables, columns, summary)


def _rows_staged(
    path: str, file_format: str, progress: Progress, *, now: Any
) -> tuple[UploadColumns, Iterator[UploadRow]]:
    columns, rows = file_header_and_rows(
        path,
        file_format,
        progress,
        columns_find=upload_columns_find,
        no_header="The file has no header row. Its first row must name the columns ClickId, "
        "EventID, UserCompletedAt, Revenue and Reward.",
    )

    def staged() -> Iterator[UploadRow]:
        check = upload_row_checker(columns, now=now)
        for row_number, cells in rows:
            row = check(row_number, cells)
            if row is not None:
                yield row

    return columns, staged()


def _rows_create(tables: StagingTables) -> None:
    staging_drop(tables)
    execute(
        f"""CREATE UNLOGGED TABLE {tables.rows} (
            row_number integer NOT NULL, gk_click_id text NOT NULL, event_code text NOT NULL,
            completed_at_text text NOT NULL, revenue_text text NOT NULL,
            payout_text text NOT NULL, transaction_id text NOT NULL, status_text text NOT NULL,
            reason text NOT NULL, completed_at timestamptz, revenue numeric(12, 4),
            payout numeric(12, 4), status varchar(16), error text)"""
    )


def _rows_load(tables: StagingTables, rows: Iterable[UploadRow]) -> int:
    count = 0
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {tables.rows} ({', '.join(UPLOAD_ROW_COLUMNS)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def _targets_build(tables: StagingTables) -> None:
    """Each valid row with its click, offer and event (``offer_event_id`` NULL when the code
    names none of the offer's events, or none is named on an offer with several)."""
    execute(
        f"""CREATE UNLOGGED TABLE {tables.targets} AS
        SELECT r.row_number, r.gk_click_id, r.event_code, r.completed_at, r.revenue, r.payout,
               r.status, r.reason, r.transaction_id, cl.id AS click_id,
               cl.created_at AS clicked_at, cl.partner_id, o.id AS offer_id,
               o.is_active AS offer_is_active, o.rewarding_mode, o.pending_time,
               o.attribution_window, coalesce(ev.events, 0) AS events, ev.codes,
               CASE WHEN r.event_code <> '' THEN named.id
                    WHEN ev.events = 1 THEN ev.only_id END AS offer_event_id
        FROM {tables.rows} r
        LEFT JOIN conversions_click cl ON cl.gk_click_id = r.gk_click_id
        LEFT JOIN conversions_offer o ON o.id = cl.offer_id
        LEFT JOIN (
            -- Each offer's events once (not per row): how many, their codes, the only one.
            SELECT offer_id, count(*) AS events, min(id) AS only_id,
                   string_agg(code, ', ' ORDER BY id) AS codes
            FROM conversions_offerevent GROUP BY offer_id
        ) ev ON ev.offer_id = o.id
        LEFT JOIN conversions_offerevent named
               ON named.offer_id = o.id AND named.code = r.event_code
        WHERE r.error IS NULL"""
    )
    execute(f"ANALYZE {tables.targets}")


def _rejects_build(tables: StagingTables) -> None:
    """The refused rows: the row's own problem first, then the conversions that exist already,
    then the rows that repeat an earlier accepted row of the file."""
    execute(
        f"""CREATE UNLOGGED TABLE {tables.rejects} (
            row_number integer NOT NULL, kind varchar(16) NOT NULL, message text NOT NULL)"""
    )
    execute(
        f"""INSERT INTO {tables.rejects} (row_number, kind, message)
        SELECT row_number, 'invalid', error FROM {tables.rows} WHERE error IS NOT NULL
        UNION ALL
        SELECT row_number, kind, message FROM (
            SELECT t.row_number,
                CASE WHEN t.click_id IS NULL THEN 'not_found'
                     WHEN t.offer_event_id IS NULL AND t.event_code <> '' THEN 'not_found'
                     WHEN t.offer_event_id IS NULL OR t.completed_at < t.clicked_at
                     THEN 'invalid'
                     WHEN dup.id IS NOT NULL OR used.id IS NOT NULL THEN 'conflicting'
                END AS kind,
                CASE WHEN t.click_id IS NULL
                     THEN 'No click has gk_click_id ' || t.gk_click_id || '.'
                     WHEN t.offer_event_id IS NULL AND t.event_code <> ''
                     THEN 'Offer ' || t.offer_id || ' has no event ' || t.event_code
                          || coalesce(' (its events: ' || t.codes || ').', '; it has no events.')
                     WHEN t.offer_event_id IS NULL AND t.events = 0
                     THEN 'Offer ' || t.offer_id || ' has no events to record.'
                     WHEN t.offer_event_id IS NULL
                     THEN 'Offer ' || t.offer_id || ' has ' || t.events || ' events ('
                          || t.codes || '): name one in EventID.'
                     WHEN t.completed_at < t.clicked_at
                     THEN 'UserCompletedAt ' || to_char(t.completed_at AT TIME ZONE 'UTC',
                          'YYYY-MM-DD HH24:MI:SS') || ' UTC is before the click ('
                          || to_char(t.clicked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')
                          || ' UTC).'
                     WHEN dup.id IS NOT NULL
                     THEN 'Click ' || t.gk_click_id || ' already has a conversion of that event'
                          || ' (EventId ' || dup.id || '): a click converts once per event.'
                     WHEN used.id IS NOT NULL
                     THEN 'TransactionId ' || t.transaction_id || ' is already used on offer '
                          || t.offer_id || ' (EventId ' || used.id || ').'
                END AS message
            FROM {tables.targets} t
            LEFT JOIN conversions_conversion dup
                   ON dup.click_id = t.click_id AND dup.offer_event_id = t.offer_event_id
            LEFT JOIN conversions_conversion used
                   ON used.transaction_id = t.transaction_id AND used.offer_id = t.offer_id
                  AND used.transaction_id <> '' AND t.transaction_id <> ''
        ) checked
        WHERE kind IS NOT NULL"""
    )
    # The file's own repeats, among the rows left: the first one is kept.
    execute(
        f"""INSERT INTO {tables.rejects} (row_number, kind, message)
        SELECT row_number, 'conflicting', CASE
            WHEN first_of_event < row_number
            THEN 'Row ' || first_of_event || ' records this click''s event already: a click '
                 || 'converts once per event.'
            ELSE 'Row ' || first_of_transaction || ' has TransactionId ' || transaction_id
                 || ' on offer ' || offer_id || ' already.' END
        FROM (
            SELECT t.row_number, t.transaction_id, t.offer_id,
                   min(t.row_number) OVER (PARTITION BY t.click_id, t.offer_event_id)
                       AS first_of_event,
                   CASE WHEN t.transaction_id <> '' THEN min(t.row_number) OVER (
                       PARTITION BY t.offer_id, t.transaction_id) END AS first_of_transaction
            FROM {tables.targets} t
            WHERE NOT EXISTS (SELECT FROM {tables.rejects} x WHERE x.row_number = t.row_number)
        ) repeats
        WHERE first_of_event < row_number OR first_of_transaction < row_number"""
    )
    execute(f"ANALYZE {tables.rejects}")


def _changes_build(tables: StagingTables) -> None:
    """The change set: one new conversion per accepted row, in the file's order."""
    staging_changes_create(
        tables,
        # The ids drawn in the file's order: over the sorted rows (a sort above the nextval
        # would draw them first, in whatever order the join gave).
        select=f"""SELECT nextval(pg_get_serial_sequence('conversions_conversion', 'id')),
               status, reason, ''::varchar(16), offer_id, partner_id, payout, revenue,
               NULL::numeric, NULL::numeric, click_id, offer_event_id, created_at,
               transaction_id, pending_time, row_number
        FROM (
            SELECT coalesce(t.status, CASE {_DEFAULT_STATUS} END) AS status,
                   CASE WHEN t.reason <> '' OR t.status IS NOT NULL THEN t.reason
                        WHEN NOT t.offer_is_active THEN %(offer_inactive)s
                        WHEN {_OUTSIDE_WINDOW} THEN %(outside_window)s
                        ELSE '' END AS reason,
                   t.offer_id, t.partner_id, t.payout, t.revenue, t.click_id, t.offer_event_id,
                   t.completed_at AS created_at, t.transaction_id,
                   CASE WHEN t.status IS NULL AND t.offer_is_active AND NOT {_OUTSIDE_WINDOW}
                             AND t.rewarding_mode <> '{Offer.RewardingMode.MANUAL}'
                             AND t.pending_time <> interval '0'
                        THEN t.pending_time END AS pending_time,
                   t.row_number
            FROM {tables.targets} t
            WHERE NOT EXISTS (SELECT FROM {tables.rejects} x WHERE x.row_number = t.row_number)
            ORDER BY t.row_number
        ) accepted""",
        params={
            "offer_inactive": "Offer is inactive.",
            "outside_window": "Conversion is outside the offer's attribution window.",
        },
    )
    execute(f"ANALYZE {tables.changes}")


# What a postback at the completion time would get (``conversions.tracking._STATUS_RULES``),
# as one CASE over the target row ``t`` (a per-row subquery cost a third of the check): the
# first rule that applies. A pending time runs from the apply (``pending_time``).
_OUTSIDE_WINDOW = "coalesce(t.completed_at - t.clicked_at > t.attribution_window, false)"
_DEFAULT_STATUS = f"""
    WHEN NOT t.offer_is_active THEN '{Status.REJECTED}'
    WHEN {_OUTSIDE_WINDOW} THEN '{Status.REJECTED}'
    WHEN t.rewarding_mode = '{Offer.RewardingMode.MANUAL}' THEN '{Status.PENDING}'
    WHEN coalesce(t.pending_time <> interval '0', false) THEN '{Status.PENDING}'
    ELSE '{Status.SUCCESS}'
"""


def _counts(tables: StagingTables) -> ImportSummary:
    """The preview's counts: the new conversions by status, the refused rows by kind."""
    will_change = {
        f"->{status}": count
        for status, count in execute(
            f"SELECT status, count(*) FROM {tables.changes} GROUP BY status ORDER BY status"
        )
    }
    rejected = dict(execute(f"SELECT kind, count(*) FROM {tables.rejects} GROUP BY kind"))
    errors = [
        RowError(row=row, message=message)
        for row, message in execute(
            f"SELECT row_number, message FROM {tables.rejects}"
            f" ORDER BY row_number LIMIT {ERRORS_SHOWN}"
        )
    ]
    ((rows,),) = execute(f"SELECT count(*) FROM {tables.rows}")
    staged = sum(will_change.values())
    return ImportSummary(
        rows=rows,
        will_change=will_change,
        will_change_total=staged,
        unchanged=0,
        not_found=rejected.get("not_found", 0),
        invalid=rejected.get("invalid", 0),
        conflicting=rejected.get("conflicting", 0),
        rejected_rows=sum(rejected.values()),
        errors=errors,
        staged=staged,
    )


def _report_save(
    import_job: ImportJob, tables: StagingTables, columns: UploadColumns, summary: ImportSummary
) -> Any:
    if not summary.rejected_rows:
        return ""
    return rejected_rows_report_save(
        import_job,
        tables,
        headers=[
            columns.headers.get(field, UPLOAD_COLUMN_LABELS[field]) for field in _REPORT_FIELDS
        ],
        values=_REPORT_TEXTS,
        file_name=f"upload-{import_job.pk}-rejected-rows.csv",
    )
