"""The callback pages of the admin on a large table: deliveries, and the "Callback sent" filter.

    .venv/bin/python bench/callback_admin.py --rows 2000000

Fills its own PostgreSQL database (``gokart_bench_cbadmin``) with ``bench/changelist.py``'s
set-based fill (conversions over 90 days, their audit rows, and a callback delivery for the
latest change of every conversion whose partner has a callback URL: mostly delivered, some
pending, 2% failed), then, as a logged-in superuser through Django's test ``Client`` (the real
admin code path), times each page after one warm-up, median of ``--runs``:

- ``/admin/callbacks/callbackdelivery/``: unfiltered, state Failed, one partner, past 7 days,
  search by Conversion Event ID, search by gk_click_id, page 500 (or the last of a smaller table);
- ``/admin/conversions/conversion/`` with the "Callback sent" column, unfiltered and filtered
  by each choice (Sent, Due or retrying, Held, Failed, None owed);
- ``/admin/callbacks/partner/`` (health of every partner) and a partner's page (health, the
  hourly chart), after one attempt per attempted delivery is written (``attempts_fill``: at
  the delivery's time, its outcome, 40–240 ms), so the health queries read as many attempts
  as deliveries.

For each page it prints the median, the query count and the slowest query's time.
``--proposed-indexes`` times with an index the callbacks migrations do not create
(see ``PROPOSED_INDEXES``), to show what it would be worth. ``--keep-db``
keeps the database, a later ``--reuse`` skips the fill. ``BENCH_POSTGRES_URL`` as in
``bench/changelist.py``. Last line:
``rows=… deliveries=… worst_median_ms=… worst_page=… proposed_indexes=yes|no``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
# The project, in place of bench/ itself: bench/click.py and bench/api.py would shadow the
# click package (Celery imports it) and the api app.
sys.path[0] = str(BASE_DIR)

from bench.admin_session import admin_client_verified  # noqa: E402 -- after the path is set
from bench.changelist_fill import database_filled  # noqa: E402
from bench.database import (  # noqa: E402
    database_drop,
)

DATABASE = "gokart_bench_cbadmin"
DELIVERIES = "/admin/callbacks/callbackdelivery/"
CONVERSIONS = "/admin/conversions/conversion/"
PARTNERS = "/admin/callbacks/partner/"


# Indexes these pages would use that the callbacks migrations do not create (the newest-first
# and partner indexes are in migration callbacks.0005); with ``--proposed-indexes`` they are
# created before timing, otherwise dropped. Each index slows every outbox insert, so this one
# (only the "Callback sent = Pending" filter gains; Failed has its own partial index,
# delivery_failed_conversion, which the outbox's inserts never touch) stays out for now.
PROPOSED_INDEXES = {
    # "Callback sent" = Pending/Failed: that state's conversions, newest first, index-only.
    "bench_delivery_state_conversion": "(state, conversion_id DESC, sequence_number)",
}


def proposed_indexes(*, create: bool) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for name, columns in PROPOSED_INDEXES.items():
            if create:
                cursor.execute(
                    f"CREATE INDEX IF NOT EXISTS {name} ON callbacks_callbackdelivery {columns}"
                )
            else:
                cursor.execute(f"DROP INDEX IF EXISTS {name}")
        cursor.execute("VACUUM ANALYZE callbacks_callbackdelivery")


def attempts_fill() -> int:
    """One attempt per attempted delivery, unless attempts exist (a reused database)."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM callbacks_callbackattempt)")
        if cursor.fetchone()[0]:
            return 0
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(
            """
            INSERT INTO callbacks_callbackattempt (delivery_id, partner_id, number, started_at,
                outcome, url, duration_ms, response_status, response_body, error)
            SELECT d.id, d.partner_id, 1, d.created_at,
                   CASE d.state WHEN 'delivered' THEN 'delivered' WHEN 'failed' THEN 'failed'
                        ELSE 'retry' END,
                   'https://partner.example/callbacks', 40 + (abs(hashtext(d.id::text)) % 200),
                   CASE d.state WHEN 'delivered' THEN 200 WHEN 'failed' THEN 410 ELSE 503 END,
                   '', CASE d.state WHEN 'delivered' THEN '' ELSE 'HTTP 503 from the partner.'
                       END
            FROM callbacks_callbackdelivery d WHERE d.attempts > 0
            """
        )
        written = cursor.rowcount
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE callbacks_callbackattempt")
    return written


def pages() -> dict[str, tuple[str, dict[str, str]]]:
    from django.utils import timezone

    from callbacks.models import CallbackDelivery, Partner
    from conversions.models import Conversion

    middle = CallbackDelivery.objects.order_by().values_list("conversion_id", flat=True)
    conversion_id = middle.filter(conversion_id__gte=Conversion.objects.count() // 2).first()
    conversion = Conversion.objects.select_related("click").get(pk=conversion_id)
    partner = Partner.objects.exclude(callback_url="").order_by("id").first()
    assert partner is not None
    # Page 500, or the last page of a smaller table.
    deep_page = max(1, min(500, CallbackDelivery.objects.count() // 100))
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    return {
        "deliveries unfiltered": (DELIVERIES, {}),
        "deliveries failed": (DELIVERIES, {"state__exact": "failed"}),
        "deliveries partner": (DELIVERIES, {"partner__id__exact": str(partner.pk)}),
        "deliveries past 7 days": (
            DELIVERIES,
            {
                "created_at__gte": str(today - timedelta(days=7)),
                "created_at__lt": str(today + timedelta(days=1)),
            },
        ),
        "deliveries search id": (DELIVERIES, {"q": str(conversion.pk)}),
        "deliveries search click": (DELIVERIES, {"q": conversion.click.gk_click_id}),
        "deliveries deep page": (DELIVERIES, {"p": str(deep_page)}),
        "conversions callback column": (CONVERSIONS, {}),
        "conversions sent": (CONVERSIONS, {"callback_sent": "sent"}),
        "conversions pending": (CONVERSIONS, {"callback_sent": "pending"}),
        "conversions held": (CONVERSIONS, {"callback_sent": "held"}),
        "conversions failed": (CONVERSIONS, {"callback_sent": "failed"}),
        "conversions none owed": (CONVERSIONS, {"callback_sent": "none"}),
        "partners list": (PARTNERS, {}),
        "partner page": (f"{PARTNERS}{partner.pk}/change/", {}),
    }


def time_pages(client, runs: int) -> dict[str, float]:  # noqa: ANN001
    from django.db import connection

    medians = {}
    for name, (url, params) in pages().items():
        queries: list[tuple[float, str]] = []

        def timed(execute, sql, params, many, context, queries=queries):  # noqa: ANN001, ANN202
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                queries.append(((time.perf_counter() - started) * 1000, sql))

        with connection.execute_wrapper(timed):
            response = client.get(url, params)  # warm-up, the query count and the slowest
        assert response.status_code == 200, (name, response.status_code)
        rows = response.content.count(b'class="action-checkbox"')
        timings = []
        for _ in range(runs):
            started = time.perf_counter()
            response = client.get(url, params)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        medians[name] = statistics.median(timings)
        slowest_ms, slowest_sql = max(queries)
        print(
            f"  {name:<28} median_ms={medians[name]:7.1f} min_ms={min(timings):7.1f} "
            f"rows_shown={rows:3d} queries={len(queries):2d} slowest_query_ms={slowest_ms:6.1f}",
            flush=True,
        )
        if os.environ.get("BENCH_SHOW_SQL"):
            print(f"    {slowest_sql[:400]}", flush=True)
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5, help="timed runs per page (median)")
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--keep-db", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--reuse", action="store_true", help="skip the fill when the database holds --rows"
    )
    parser.add_argument(
        "--proposed-indexes",
        action="store_true",
        help="time with the indexes of PROPOSED_INDEXES (not in the migrations)",
    )
    args = parser.parse_args()

    postgres_url = database_filled(
        database=args.database,
        rows=args.rows,
        reuse=args.reuse,
        secret_key="bench-callback-admin-not-secret",
    )
    from django.db import connections

    from callbacks.models import CallbackDelivery

    try:
        proposed_indexes(create=args.proposed_indexes)
        print(f"attempts written: {attempts_fill()}", flush=True)
        deliveries = CallbackDelivery.objects.count()
        client = admin_client_verified()
        print(f"Timing ({args.runs} runs per page, median)", flush=True)
        medians = time_pages(client, args.runs)
    finally:
        if not args.keep_db:
            connections.close_all()
            database_drop(postgres_url, args.database)

    worst_page = max(medians, key=medians.__getitem__)
    print(
        f"rows={args.rows} deliveries={deliveries} worst_median_ms={medians[worst_page]:.1f} "
        f"worst_page={worst_page.replace(' ', '_')} "
        f"proposed_indexes={'yes' if args.proposed_indexes else 'no'}"
    )


if __name__ == "__main__":
    main()
