"""Conversion Management's changelist on a large table, against a stock ModelAdmin.

    .venv/bin/python bench/changelist.py --rows 2000000

What it does, all on this machine:

1. creates its own PostgreSQL database (``gokart_bench_changelist``; ``--keep-db`` keeps it and
   a later ``--reuse`` run skips the fill when it already holds ``--rows`` conversions) and
   migrates it;
2. fills it set-based (``INSERT … SELECT generate_series``): 4 offers with 3 events each,
   5 partners (3 with a callback URL), ``rows / 2`` clicks with two conversions each over 90
   days, mixed statuses and status sources, each conversion's audit rows (its first status, and
   a second change for those set by an admin or an import) and a callback delivery for the
   latest change of conversions whose partner has a callback URL; then ``VACUUM ANALYZE``;
3. logs in a superuser with Django's test ``Client`` (the real admin code path: middleware,
   session, permissions, template rendering) and times these pages of
   ``/admin/conversions/conversion/``: unfiltered, a status filter, an offer filter, a search by
   gk_click_id and page 500; ``--runs`` times each after one warm-up, median;
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
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.database import (  # noqa: E402 -- after the path is set
    CATALOGUE_SQL,
    database_drop,
    database_exists,
    database_recreate,
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
    SELECT md5('click-' || g), o.ids[1 + g %% 4], p.ids[1 + (g / 4) %% 5], 'user-' || (g %% 50000),
           NULL, now() - interval '90 days' * (1 - g::float8 / %(clicks)s)
    FROM generate_series(0, %(clicks)s - 1) g, o, p
    ORDER BY g
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
    ORDER BY g
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


def fill(rows: int) -> None:
    from django.db import connection, transaction

    params = {"rows": rows, "clicks": (rows + 1) // 2}
    with transaction.atomic(), connection.cursor() as cursor:
        # Set-based inserts of millions of rows gain nothing from JIT, and can stall in it.
        cursor.execute("SET LOCAL jit = off")
        for sql in FILL_SQL:
            started = time.perf_counter()
            cursor.execute(sql, params)
            table = sql.split("INSERT INTO ")[1].split()[0]
            print(
                f"  {table}: {cursor.rowcount:,} rows in {time.perf_counter() - started:.1f} s",
                flush=True,
            )
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

    stock_site = admin.AdminSite(name="stock")
    stock_site.register(Conversion, StockConversionAdmin)
    module = types.ModuleType(URLCONF)
    module.urlpatterns = [  # type: ignore[attr-defined]
        path("admin/", admin.site.urls),
        path("stock/", stock_site.urls),
    ]
    sys.modules[URLCONF] = module
    settings.ROOT_URLCONF = URLCONF
    clear_url_caches()


def pages() -> dict[str, dict[str, str]]:
    """The timed pages, as query parameters of the changelist."""
    from conversions.models import Click, Offer

    offer = Offer.objects.order_by("id")[1]
    middle = Click.objects.order_by().values_list("id", flat=True).last() // 2  # type: ignore[operator]
    click = Click.objects.filter(id__gte=middle).order_by("id").first()
    assert click is not None
    return {
        "unfiltered": {},
        "status filter": {"status__exact": "rejected"},
        "offer filter": {"offer__id__exact": str(offer.pk)},
        "search gk_click_id": {"q": click.gk_click_id},
        "page 500": {"p": "500"},
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
            f"  {prefix:<31} {name:<18} median_ms={medians[name]:7.1f} "
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
    from django.contrib.auth import get_user_model
    from django.test import Client

    try:
        urlconf_install()
        user, _ = get_user_model().objects.get_or_create(
            username="bench", defaults={"is_staff": True, "is_superuser": True}
        )
        client = Client()
        client.force_login(user)
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
