"""Conversion Management's changelist on a large table, against a stock ModelAdmin.

    .venv/bin/python bench/changelist.py --rows 2000000

What it does, all on this machine:

1. creates its own PostgreSQL database (``gokart_bench_changelist``; ``--keep-db`` keeps it and
   a later ``--reuse`` run skips the fill when it already holds ``--rows`` conversions) and
   migrates it;
2. fills it set-based (``bench/changelist_fill.py``: ``INSERT … SELECT generate_series``, with
   the big tables' indexes dropped and built again after): 4 offers with 3 events each, 5
   partners (3 with a callback URL; the fifth gets one click in 1,000), ``rows / 2`` clicks with
   two conversions each over 90 days, mixed statuses and status sources, each conversion's audit
   rows (its first status, and a second change for those set by an admin or an import) and a
   callback delivery for the latest change of conversions whose partner has a callback URL, and
   the conversion tally; then ``VACUUM ANALYZE``;
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
from bench.changelist_fill import DATABASE, database_filled  # noqa: E402
from bench.database import database_drop  # noqa: E402

URLCONF = "bench_changelist_urls"


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
