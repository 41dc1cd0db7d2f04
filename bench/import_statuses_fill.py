"""The import benchmark's data (``bench/import_statuses.py``): its database, filled set-based,
and the file's rows read back from it.

The table: 4 offers with 3 events each, 5 partners (3 with a callback URL, so changes owe
outbox rows), two conversions per click (its offer's first two events), each with its first
audit row as a postback writes it.
The status file: per click, mostly EventId rows that change a status or ask for the one it has,
some click-only rows, and a few conflicting, invalid and not-found rows (``ROWS_SQL``).
The conversion upload (``--create``): per click, a new conversion of its offer's third event,
the one it has none of, and a few refused rows of each kind (``upload_rows``).
The amounts file (``--amounts``): the status file's rows with Payout and Revenue columns, most
of the changes setting a new payout with or without a status (``amounts_file_rows``).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from bench.database import CATALOGUE_SQL

HEADER = ["gk_click_id", "EventId", "Status", "Reason"]
AMOUNTS_HEADER = [*HEADER, "Payout", "Revenue"]
LABEL = {"pending": "Pending", "success": "Success", "rejected": "Rejected"}
UPLOAD_HEADER = [
    "ClickId",
    "EventID",
    "UserCompletedAt",
    "Revenue",
    "Reward",
    "TransactionId",
    "Status",
    "Reason",
]


FILL_SQL = [
    *CATALOGUE_SQL,
    """
    WITH o AS (SELECT array_agg(id ORDER BY id) AS ids FROM conversions_offer),
         p AS (SELECT array_agg(id ORDER BY id) AS ids FROM callbacks_partner)
    INSERT INTO conversions_click (gk_click_id, offer_id, partner_id, sub_id, ip_address,
        created_at)
    SELECT md5('click-' || g), o.ids[1 + g %% 4], p.ids[1 + (g / 4) %% 5], 'user-' || g,
           NULL, now() - interval '30 days'
    FROM generate_series(0, %(clicks)s - 1) g, o, p
    ORDER BY g
    """,
    # Two conversions per click (its offer's first two events); a third of the clicks Success,
    # the rest Pending. Each with its first audit row's hash, as a postback writes it (the id
    # drawn first: the hash covers it, and the amounts).
    """
    WITH ev AS (SELECT offer_id, array_agg(id ORDER BY id) AS ids
                FROM conversions_offerevent GROUP BY offer_id)
    INSERT INTO conversions_conversion (id, click_id, offer_event_id, offer_id, partner_id,
        status, status_reason, status_source, status_changed_at, status_version, pending_until,
        payout, revenue, transaction_id, created_at, audit_chain_hash)
    SELECT x.*, conversions_status_change_hash(
               conversion_id => x.id, sequence_number => 1, old_status => '',
               new_status => x.status, source => 'postback', user_id => NULL,
               import_job_id => NULL, callbacks_suppressed => false, callback_owed => false,
               created_at => x.created_at, reason => '', previous_hash => NULL,
               payout => x.payout, revenue => x.revenue)
    FROM (
        SELECT nextval(pg_get_serial_sequence('conversions_conversion', 'id')) AS id, sorted.*
        FROM (
            SELECT c.id AS click_id, ev.ids[e], c.offer_id, c.partner_id,
                   CASE WHEN c.id %% 3 = 0 THEN 'success' ELSE 'pending' END AS status, '',
                   'postback', now() - interval '29 days', 1, NULL::timestamptz,
                   1.2 AS payout, 2.0 AS revenue,
                   'txn-' || c.id || '-' || e, now() - interval '29 days' AS created_at
            FROM conversions_click c JOIN ev ON ev.offer_id = c.offer_id
            CROSS JOIN generate_series(1, 2) e
            ORDER BY c.id, e
        ) sorted
    ) x
    """,
    """
    INSERT INTO conversions_statuschange (conversion_id, old_status, new_status, source,
        user_id, import_job_id, reason, sequence_number, callbacks_suppressed, callback_owed,
        created_at, chain_hash, payout, revenue)
    SELECT id, '', status, 'postback', NULL::integer, NULL::bigint, '', 1, false, false,
           created_at, audit_chain_hash, payout, revenue
    FROM conversions_conversion
    """,
]

# One file row per conversion, by the click's place in 1,000: 0-449 change, 450-899 unchanged,
# 900-979 one click-only row (fans out to both conversions), 980-989 conflicting (the first
# conversion asked twice), 990-994 invalid (unknown status, non-numeric EventId), 995-999 an
# EventId that does not exist.
ROWS_SQL = """
    SELECT cl.gk_click_id, c.id, c.status, cl.id %% 1000 AS kind
    FROM conversions_click cl JOIN conversions_conversion c ON c.click_id = cl.id
    ORDER BY cl.id, c.id
"""


def fill(clicks: int) -> None:
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        for sql in FILL_SQL:
            started = time.perf_counter()
            cursor.execute(sql, {"clicks": clicks})
            table = sql.split("INSERT INTO ")[1].split()[0]
            print(f"  {table}: {cursor.rowcount:,} rows in {time.perf_counter() - started:.1f} s")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        # Write the fill's pages out now rather than during the measured import (a checkpoint
        # the fill started would otherwise go on writing for minutes beside it).
        cursor.execute("CHECKPOINT")


# What a status file says next to each conversion's status.
FLIP = {"pending": "success", "success": "rejected", "rejected": "pending"}


def _file_conversions() -> Iterator[tuple[str, int, str, int, bool]]:
    """Each conversion of ``ROWS_SQL``, from the database (a server-side cursor), with whether
    it is its click's first: ``(gk_click_id, id, status, kind, first)``."""
    from django.db import connection

    with connection.chunked_cursor() as cursor:
        cursor.execute(ROWS_SQL.replace("%%", "%"))
        previous = None
        while batch := cursor.fetchmany(10_000):
            for click, conversion_id, status, kind in batch:
                yield click, conversion_id, status, kind, click != previous
                previous = click


def file_rows() -> Iterator[list]:
    """The status file's data rows."""
    for click, conversion_id, status, kind, first in _file_conversions():
        if kind < 450:
            yield [click, conversion_id, LABEL[FLIP[status]], ""]
        elif kind < 900:
            yield [click, conversion_id, LABEL[status], ""]
        elif kind < 980:
            if first:
                yield [click, "", "Rejected", "fraud review"]
        elif kind < 990:
            yield [click, conversion_id, LABEL[FLIP[status]], ""]
            if first:
                yield [click, conversion_id, LABEL[status], ""]
        elif kind < 995:
            yield [
                click,
                conversion_id if first else "n/a",
                "Paid" if first else "Success",
                "",
            ]
        else:
            yield [click, conversion_id + 10**9, "Success", ""]


def amounts_file_rows() -> Iterator[list]:
    """The amounts file's data rows (``AMOUNTS_HEADER``), from the database, by the click's
    place in 1,000: 0-299 a new payout alone, 300-449 a new status, payout and revenue, 450-899
    the status it has and no amounts (unchanged), 900-979 one click-only row setting the
    revenue of both its conversions, 980-989 conflicting (the first conversion asked two
    payouts), 990-994 an amount that is not money, 995-999 an EventId that does not exist. A
    new payout is 1.00 to 1.49 by the conversion's id (the fill's is 1.20: one in fifty stays).
    """
    for click, conversion_id, status, kind, first in _file_conversions():
        payout = f"{1 + (conversion_id % 50) / 100:.2f}"
        if kind < 300:
            yield [click, conversion_id, "", "", payout, ""]
        elif kind < 450:
            yield [click, conversion_id, LABEL[FLIP[status]], "", payout, "2.5"]
        elif kind < 900:
            yield [click, conversion_id, LABEL[status], "", "", ""]
        elif kind < 980:
            if first:
                yield [click, "", "", "advertiser statement", "", "2.25"]
        elif kind < 990:
            yield [click, conversion_id, "", "", payout, ""]
            if first:
                yield [click, conversion_id, "", "", "9.99", ""]
        elif kind < 995:
            yield [click, conversion_id, "", "", "1,234.50", ""]
        else:
            yield [click, conversion_id + 10**9, "", "", payout, ""]


def stock_slice(count: int) -> list[list]:
    """The file's first ``count`` rows that name an existing conversion by EventId with a known
    status: the rows a stock ``ModelResource`` can import too."""
    rows = []
    for row in file_rows():
        if isinstance(row[1], int) and row[1] < 10**9 and row[2] in LABEL.values():
            rows.append(row)
            if len(rows) >= count:
                break
    return rows


# Each click with the codes of its offer's events by id: the fill's conversions are of the
# first two, the third is free.
UPLOAD_ROWS_SQL = """
    WITH ev AS (SELECT offer_id, array_agg(code ORDER BY id) AS codes
                FROM conversions_offerevent GROUP BY offer_id)
    SELECT cl.id, cl.gk_click_id, ev.codes[3], ev.codes[1]
    FROM conversions_click cl JOIN ev ON ev.offer_id = cl.offer_id
    ORDER BY cl.id
"""
# By the click's id modulo 8: half the rows without a Status (the offer's default: Success).
UPLOAD_STATUSES = [("", "")] * 4 + [
    ("Success", ""),
    ("Success", ""),
    ("Pending", ""),
    ("Rejected", "duplicate install"),
]
UPLOAD_AMOUNTS = [("14.50", "10.00"), ("2.00", "1.20"), ("5.00", "3.50"), ("9.99", "7.25")]


def upload_rows(expected: Counter[str]) -> Iterator[list]:
    """The conversion upload's data rows, from the database (a server-side cursor), counting in
    ``expected`` each row taken by what the check should make of it: ``accepted``,
    ``not_found``, ``conflicting`` or ``invalid``.

    By the click's place in 1,000: 0-979 its free event (completed a day before now, 29 days
    after the click); 980-983 an unknown ClickId, 984-987 an event code its offer does not have
    (not found); 988-991 its first event, which has a conversion, 992-994 the TransactionId of
    that conversion (conflicting); 995-997 a Revenue of ``12,50``, 999 a completion before the
    click (invalid); 998 its free event twice (the second row conflicting)."""
    from django.db import connection

    now = datetime.now(UTC).replace(microsecond=0)
    times = [f"{now - timedelta(days=1, seconds=s):%Y-%m-%d %H:%M:%S}" for s in range(3600)]
    before_click = f"{now - timedelta(days=31):%Y-%m-%d %H:%M:%S}"
    with connection.chunked_cursor() as cursor:
        cursor.execute(UPLOAD_ROWS_SQL)
        while batch := cursor.fetchmany(10_000):
            for click_id, click, free_code, taken_code in batch:
                kind = click_id % 1000
                status, reason = UPLOAD_STATUSES[click_id % 8]
                revenue, reward = UPLOAD_AMOUNTS[click_id % 4]
                transaction = f"up-{click_id}" if click_id % 3 == 0 else ""
                row = [click, free_code, times[click_id % 3600], revenue, reward]
                row += [transaction, status, reason]
                outcome = "accepted"
                if 980 <= kind < 984:
                    row[0], outcome = f"unknown-{click_id}", "not_found"
                elif 984 <= kind < 988:
                    row[1], outcome = "bonus", "not_found"
                elif 988 <= kind < 992:
                    row[1], outcome = taken_code, "conflicting"
                elif 992 <= kind < 995:
                    row[5], outcome = f"txn-{click_id}-1", "conflicting"
                elif 995 <= kind < 998:
                    row[3], outcome = "12,50", "invalid"
                elif kind == 999:
                    row[2], outcome = before_click, "invalid"
                expected[outcome] += 1
                yield row
                if kind == 998:
                    expected["conflicting"] += 1
                    yield row
