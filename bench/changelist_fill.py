"""The changelist benchmark's database, which the overview, callback admin and API benchmarks
measure on too: created, migrated and filled set-based with ``rows`` conversions and all that
hangs on them (what it holds: step 2 of ``bench/changelist.py``'s docstring)."""

from __future__ import annotations

import os
import time

from bench.database import (
    CATALOGUE_SQL,
    database_exists,
    database_recreate,
    field_encryption_key,
)

DATABASE = "gokart_bench_changelist"


FILL_SQL = [
    *CATALOGUE_SQL,
    # Clicks, oldest first over 90 days, spread over offers and partners.
    """
    WITH o AS (SELECT array_agg(id ORDER BY id) AS ids FROM conversions_offer),
         p AS (SELECT array_agg(id ORDER BY id) AS ids FROM callbacks_partner)
    INSERT INTO conversions_click (gk_click_id, offer_id, partner_id, sub_id, ip_address,
        created_at)
    SELECT md5('click-' || g), o.ids[1 + g %% 4],
           -- Partner 5 is small (one click in 1,000): its filters match few rows.
           CASE WHEN g %% 1000 = 999 THEN p.ids[5] ELSE p.ids[1 + (g / 4) %% 4] END,
           'user-' || (g %% 50000),
           NULL, now() - interval '90 days' * (1 - g::float8 / %(clicks)s)
    FROM generate_series(0, %(clicks)s - 1) g, o, p
    """,
    # Two conversions per click (two of its offer's events), in time order.
    """
    WITH ev AS (SELECT offer_id, array_agg(id ORDER BY id) AS ids,
                       array_agg(payout ORDER BY id) AS payouts,
                       array_agg(revenue ORDER BY id) AS revenues
                FROM conversions_offerevent GROUP BY offer_id),
         first_click AS (SELECT min(id) AS id FROM conversions_click)
    INSERT INTO conversions_conversion (click_id, offer_event_id, offer_id, partner_id, status,
        status_reason, status_source, status_changed_at, status_version, pending_until, payout,
        revenue, transaction_id, created_at)
    SELECT c.id, ev.ids[1 + g %% 2 + (g / 2) %% 2], c.offer_id, c.partner_id,
           CASE WHEN g %% 10 < 6 THEN 'success' WHEN g %% 10 < 9 THEN 'pending'
                ELSE 'rejected' END,
           '',
           CASE WHEN g %% 20 = 9 THEN 'admin' WHEN g %% 20 = 19 THEN 'bulk_import'
                ELSE 'postback' END,
           c.created_at + interval '5 minutes',
           CASE WHEN g %% 10 = 9 THEN 2 ELSE 1 END,
           NULL, ev.payouts[1 + g %% 2 + (g / 2) %% 2], ev.revenues[1 + g %% 2 + (g / 2) %% 2],
           'txn-' || g, c.created_at + interval '5 minutes'
    FROM generate_series(0, %(rows)s - 1) g
    CROSS JOIN first_click
    JOIN conversions_click c ON c.id = first_click.id + g / 2
    JOIN ev ON ev.offer_id = c.offer_id
    """,
    # The audit trail: every conversion's first status; a second change for the rejected
    # ones (version 2), made by an admin or an import.
    """
    INSERT INTO conversions_statuschange (conversion_id, old_status, new_status, source,
        user_id, import_job_id, reason, sequence_number, callbacks_suppressed, callback_owed,
        created_at)
    SELECT id, '', CASE WHEN status_version = 2 THEN 'success' ELSE status END, 'postback',
           NULL::integer, NULL::bigint, '', 1, false, false, created_at
    FROM conversions_conversion
    UNION ALL
    SELECT id, 'success', status, status_source, NULL, NULL, 'Advertiser dispute', 2, false,
           false, status_changed_at
    FROM conversions_conversion WHERE status_version = 2
    """,
    # A callback delivery for each conversion's latest change, when its partner has a URL:
    # mostly delivered, some still being retried, a few failed.
    """
    INSERT INTO callbacks_callbackdelivery (id, status_change_id, conversion_id, partner_id,
        sequence_number, state, attempts, next_attempt_at, payload, last_error, created_at,
        delivered_at)
    SELECT gen_random_uuid(), sc.id, c.id, c.partner_id, sc.sequence_number,
           CASE WHEN c.id %% 50 = 0 THEN 'failed' WHEN c.id %% 50 < 5 THEN 'pending'
                ELSE 'delivered' END,
           1, sc.created_at, NULL, '', sc.created_at, sc.created_at
    FROM conversions_conversion c
    JOIN conversions_statuschange sc
      ON sc.conversion_id = c.id AND sc.sequence_number = c.status_version
    JOIN callbacks_partner p ON p.id = c.partner_id AND p.callback_url <> ''
    """,
]


# The tables the fill writes millions of rows to: their indexes are dropped for the fill and
# built again after it (a sorted build per index instead of one random insert per row and index:
# the 12M callback deliveries and their random uuid keys took 708 s with their indexes).
FILLED_TABLES = [
    "conversions_click",
    "conversions_conversion",
    "conversions_statuschange",
    "callbacks_callbackdelivery",
]


def _indexes_drop(cursor) -> list[str]:  # noqa: ANN001
    """Drop the filled tables' keys and indexes (and the foreign keys on or to them); returns
    the statements that create them again, foreign keys last."""
    cursor.execute(
        """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype
           FROM pg_constraint
           WHERE (conrelid = ANY(%(tables)s::regclass[]) AND contype IN ('p', 'u', 'f'))
              OR (confrelid = ANY(%(tables)s::regclass[]) AND contype = 'f')
           ORDER BY contype = 'f' DESC""",
        {"tables": FILLED_TABLES},
    )
    constraints = cursor.fetchall()
    cursor.execute(
        """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
           FROM pg_index i WHERE i.indrelid = ANY(%s::regclass[])
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid
                                                            AND c.contype IN ('p', 'u'))""",
        [FILLED_TABLES],
    )
    indexes = cursor.fetchall()
    for table, name, _, _ in constraints:  # foreign keys first
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        cursor.execute(f"DROP INDEX {name}")
    keys = [(t, n, d) for t, n, d, kind in constraints if kind != "f"]
    foreign = [(t, n, d) for t, n, d, kind in constraints if kind == "f"]
    return [
        *(
            f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
            for table, name, definition in keys
        ),
        *(definition for _, definition in indexes),
        # Checked as the schema has them (a full check of every row, as migrate would).
        *(
            f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
            for table, name, definition in foreign
        ),
    ]


def fill(rows: int) -> None:
    from django.db import connection, transaction

    from conversions.tally import REBUILD_SQL

    params = {"rows": rows, "clicks": (rows + 1) // 2}
    # Last, the conversion tally, counted from the conversions as conversion_tally_rebuild does
    # (and migration 0009 backfills it); the status service then keeps it.
    statements = [*FILL_SQL, REBUILD_SQL]
    with transaction.atomic(), connection.cursor() as cursor:
        # Set-based inserts of millions of rows gain nothing from JIT, and can stall in it.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")
        cursor.execute("SET LOCAL work_mem = '256MB'")
        recreate = _indexes_drop(cursor)
        for sql in statements:
            started = time.perf_counter()
            cursor.execute(sql, params)
            table = sql.split("INSERT INTO ")[1].split()[0]
            print(
                f"  {table}: {cursor.rowcount:,} rows in {time.perf_counter() - started:.1f} s",
                flush=True,
            )
        started = time.perf_counter()
        for sql in recreate:
            one = time.perf_counter()
            cursor.execute(sql)
            if time.perf_counter() - one > 5:
                print(f"    {time.perf_counter() - one:.1f} s: {sql[:110]}", flush=True)
        print(
            f"  {len(recreate)} indexes and keys built in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
    from conversions.tally import conversion_tallies_compact

    started = time.perf_counter()
    conversion_tallies_compact()  # as beat keeps it: hours older than two days folded into days
    print(f"  tally compacted: {time.perf_counter() - started:.1f} s", flush=True)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"  VACUUM ANALYZE: {time.perf_counter() - started:.1f} s", flush=True)


def database_filled(*, database: str, rows: int, reuse: bool, secret_key: str) -> str:
    """Set Django up on the bench's own database, holding ``rows`` filled conversions.

    With ``reuse``, an existing database with that many conversions is kept (no fill).
    Returns the server URL (``BENCH_POSTGRES_URL``) for dropping the database afterwards.
    """
    postgres_url = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
    os.environ.update(
        {
            "DATABASE_URL": f"{postgres_url}/{database}",
            "DATABASE_CONN_MAX_AGE": "600",
            "DEBUG": "0",
            "SECRET_KEY": secret_key,
            "FIELD_ENCRYPTION_KEYS": field_encryption_key(),
            "ALLOWED_HOSTS": "testserver",
            "CELERY_BROKER_URL": "memory://",
            "DJANGO_SETTINGS_MODULE": "gokart.settings",
            "LOG_LEVEL": "WARNING",
        }
    )
    reuse = reuse and database_exists(postgres_url, database)
    if not reuse:
        database_recreate(postgres_url, database)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from conversions.models import Conversion

    call_command("migrate", verbosity=0)
    with connections["default"].cursor() as cursor:
        # The planner's cost of a random page read on SSD storage, as the README's deploy notes
        # recommend: with the stock 4.0, a filter on status + offer + partner was counted by
        # AND-ing a bitmap of the whole status index (2M entries: 0.7 s at 20M) instead of
        # walking the partner's index (0.08 s).
        cursor.execute(f'ALTER DATABASE "{database}" SET random_page_cost = 1.1')
    connections.close_all()
    if reuse and Conversion.objects.count() != rows:
        print(f"{database} holds another row count: refilling", flush=True)
        connections.close_all()
        database_recreate(postgres_url, database)
        call_command("migrate", verbosity=0)
        reuse = False
    if not reuse:
        print(f"Filling {database} with {rows:,} conversions", flush=True)
        started = time.perf_counter()
        fill(rows)
        print(f"  fill total: {time.perf_counter() - started:.1f} s", flush=True)
    else:
        from conversions.tally import conversion_tallies_compact

        conversion_tallies_compact()
        with connections["default"].cursor() as cursor:
            cursor.execute("VACUUM ANALYZE conversions_conversiontally")
    return postgres_url
