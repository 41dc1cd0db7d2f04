"""Conversion Management's changelist on a large table, against a stock ModelAdmin.

    .venv/bin/python bench/changelist.py --rows 2000000

What it does, all on this machine:

1. creates its own PostgreSQL database (``gokart_bench_changelist``; ``--keep-db`` keeps it and
   a later ``--reuse`` run skips the fill when it already holds ``--rows`` conversions) and
   migrates it;
2. fills it set-based (``INSERT … SELECT generate_series``, with the big tables' indexes dropped
   and built again after): 4 offers with 3 events each, 5 partners (3 with a callback URL; the
   fifth gets one click in 1,000), ``rows / 2`` clicks with two conversions each over 90
   days, mixed statuses and status sources, each conversion's audit rows (its first status, and
   a second change for those set by an admin or an import) and a callback delivery for the
   latest change of conversions whose partner has a callback URL, and the conversion tally;
   then ``VACUUM ANALYZE``;
3. logs in a superuser with Django's test ``Client`` (the real admin code path: middleware,
   session, permissions, template rendering) and times these pages of
   ``/admin/conversions/conversion/``: unfiltered, a status filter, an offer filter, a search by
   gk_click_id, page 500, a week's created range, a day's status-change range, a search by
   partner sub id, status + offer + a small partner (few rows), totals counted to the bound
   (status source filter) and exact from the tally (a week and a status); every page shows its
   totals line; ``--runs`` times each after one warm-up, median;
4. times the same pages on a plain ``ModelAdmin`` registered on a separate ``AdminSite``
   (``/stock/``, this script's own urlconf) with default settings, plus the
   ``search_fields = ["click__gk_click_id"]`` a stock admin would declare for that search.

Connection: ``BENCH_POSTGRES_URL`` (default ``postgres://postgres@127.0.0.1:5432``).
Last line: ``rows=… worst_median_ms=… stock_worst_median_ms=… ratio=…`` where ratio is the
stock worst median over ours.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import types
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
# The project, in place of bench/ itself: bench/click.py and bench/api.py would shadow the
# click package (Celery imports it) and the api app.
sys.path[0] = str(BASE_DIR)

from bench.admin_session import admin_client_verified  # noqa: E402 -- after the path is set
from bench.database import (  # noqa: E402 -- after the path is set
    CATALOGUE_SQL,
    database_drop,
    database_exists,
    database_recreate,
    field_encryption_key,
)

DATABASE = "gokart_bench_changelist"
URLCONF = "bench_changelist_urls"


# --- the data ----------------------------------------------------------------------------------

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


# --- the admin sites -------------------------------------------------------------------------


def urlconf_install() -> None:
    """Our admin at /admin/, a stock ModelAdmin of Conversion at /stock/."""
    from django.conf import settings
    from django.contrib import admin
    from django.urls import clear_url_caches, path

    from conversions.models import Conversion

    class StockConversionAdmin(admin.ModelAdmin):
        # Default settings, and the search field a stock admin would declare for that search.
        search_fields = ["click__gk_click_id"]

    # The project's site class (its templates link the two-factor pages), a stock ModelAdmin.
    from access.sites import GoKartAdminSite

    stock_site = GoKartAdminSite(name="stock")
    # Django's own register: a stock admin takes any lookup in its query (ours refuse those
    # their filters do not make, gokart/admin_lookups.py), as the stock filters here need.
    admin.AdminSite.register(stock_site, Conversion, StockConversionAdmin)
    module = types.ModuleType(URLCONF)
    module.urlpatterns = [  # type: ignore[attr-defined]
        path("admin/", admin.site.urls),
        path("stock/", stock_site.urls),
    ]
    sys.modules[URLCONF] = module
    settings.ROOT_URLCONF = URLCONF
    clear_url_caches()


def pages() -> dict[str, dict[str, str]]:
    """The timed pages, as query parameters of the changelist. Every page of ours also shows
    the filter's totals (exact from the tally, or counted to the paginator's bound)."""
    from django.utils import timezone

    from callbacks.models import Partner
    from conversions.models import Click, Offer

    offer = Offer.objects.order_by("id")[1]
    # The small partner's clicks are all on the fourth offer (click numbers 999 mod 1,000).
    small_partner, its_offer = Partner.objects.order_by("id")[4], Offer.objects.order_by("id")[3]
    middle = Click.objects.order_by().values_list("id", flat=True).last() // 2  # type: ignore[operator]
    click = Click.objects.filter(id__gte=middle).order_by("id").first()
    assert click is not None
    # A week in the middle of the 90 days, on day boundaries (so the totals are exact).
    week_start = (timezone.now() - timedelta(days=45)).date()
    week = {
        "created_at__gte": week_start.isoformat(),
        "created_at__lt": (week_start + timedelta(days=7)).isoformat(),
    }
    changed_start = (timezone.now() - timedelta(days=60)).date()
    return {
        "unfiltered": {},
        "status filter": {"status__exact": "rejected"},
        "offer filter": {"offer__id__exact": str(offer.pk)},
        "search gk_click_id": {"q": click.gk_click_id},
        "page 500": {"p": "500"},
        "created week": week,
        "status changed day": {
            "status_changed_at__gte": changed_start.isoformat(),
            "status_changed_at__lt": (changed_start + timedelta(days=1)).isoformat(),
        },
        "search sub id": {"q": click.sub_id},
        "status+offer+partner": {
            "status__exact": "rejected",
            "offer__id__exact": str(its_offer.pk),
            "partner__id__exact": str(small_partner.pk),
        },
        "totals counted": {"status_source__exact": "admin"},
        "totals week+status": {**week, "status__exact": "pending"},
    }


def time_pages(client, prefix: str, runs: int) -> dict[str, float]:  # noqa: ANN001
    from django.db import connection

    medians = {}
    for name, params in pages().items():
        queries: list[str] = []

        def count(execute, sql, params, many, context, queries=queries):  # noqa: ANN001, ANN202
            queries.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            response = client.get(prefix, params)  # warm-up, and the query count
        assert response.status_code == 200, (prefix, name, response.status_code)
        rows = response.content.count(b'class="action-checkbox"')
        if not rows and prefix.startswith("/admin/"):
            raise SystemExit(f"{name}: no rows shown")
        timings, cpu = [], []
        for _ in range(runs):
            started, cpu_started = time.perf_counter(), time.process_time()
            response = client.get(prefix, params)
            timings.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - cpu_started) * 1000)
            assert response.status_code == 200
        medians[name] = statistics.median(timings)
        # cpu_ms: this process's CPU (Django and rendering), the rest is the database's share
        # or waiting for a core on a busy machine.
        print(
            f"  {prefix:<31} {name:<20} median_ms={medians[name]:7.1f} "
            f"min_ms={min(timings):7.1f} cpu_ms={statistics.median(cpu):6.1f} "
            f"rows_shown={rows:3d} queries={len(queries)}",
            flush=True,
        )
    return medians


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=7, help="timed runs per page (median)")
    parser.add_argument("--stock-runs", type=int, default=None, help="default: --runs")
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--keep-db", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--reuse", action="store_true", help="skip the fill when the database holds --rows"
    )
    args = parser.parse_args()

    postgres_url = database_filled(
        database=args.database,
        rows=args.rows,
        reuse=args.reuse,
        secret_key="bench-changelist-not-secret",
    )
    try:
        urlconf_install()
        client = admin_client_verified()
        print(f"Timing ({args.runs} runs per page, median)", flush=True)
        ours = time_pages(client, "/admin/conversions/conversion/", args.runs)
        stock = time_pages(client, "/stock/conversions/conversion/", args.stock_runs or args.runs)
    finally:
        if not args.keep_db:
            from django.db import connections

            connections.close_all()
            database_drop(postgres_url, args.database)

    worst, stock_worst = max(ours.values()), max(stock.values())
    print(
        f"rows={args.rows} worst_median_ms={worst:.1f} stock_worst_median_ms={stock_worst:.1f} "
        f"ratio={stock_worst / worst:.1f}"
    )


if __name__ == "__main__":
    main()
