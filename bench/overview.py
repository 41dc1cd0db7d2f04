"""The overview (the admin's first page) on a large table, as a logged-in admin.

    .venv/bin/python bench/overview.py --rows 2000000 [--runs 15] [--keep-db] [--reuse]

Uses the changelist benchmark's database and fill (``gokart_bench_changelist``: with
``--reuse`` a database that already holds ``--rows`` conversions is not filled again), then
times ``GET /admin/`` with Django's test ``Client`` (middleware, session, permissions, the
overview's queries and its SVG chart): one warm-up, then ``--runs``. The tally is compacted
first, as beat keeps it.

Connection: ``BENCH_POSTGRES_URL`` (default ``postgres://postgres@127.0.0.1:5432``).
Last line: ``rows=… median_ms=… worst_ms=…``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
# The project, in place of bench/ itself: bench/click.py and bench/api.py would shadow the
# click package (Celery imports it) and the api app.
sys.path[0] = str(BASE_DIR)

from bench.admin_session import admin_client_verified  # noqa: E402 -- after the path is set
from bench.changelist_fill import DATABASE, database_filled  # noqa: E402
from bench.database import database_drop  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=15)
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
        secret_key="bench-overview-not-secret",
    )
    from django.db import connection

    from conversions.models import ConversionTally
    from conversions.tally import conversion_tallies_compact

    try:
        conversion_tallies_compact()
        client = admin_client_verified()
        queries: list[str] = []

        def count(execute, sql, params, many, context):  # noqa: ANN001, ANN202
            queries.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            response = client.get("/admin/")  # warm-up, and the query count
        assert response.status_code == 200, response.status_code
        assert b"gk-chart-bar" in response.content, "the chart has no bars"
        timings = []
        for _ in range(args.runs):
            started = time.perf_counter()
            response = client.get("/admin/")
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        print(
            f"  /admin/ median_ms={statistics.median(timings):.1f} min_ms={min(timings):.1f} "
            f"queries={len(queries)} tally_rows={ConversionTally.objects.count():,}",
            flush=True,
        )
    finally:
        if not args.keep_db:
            from django.db import connections

            connections.close_all()
            database_drop(postgres_url, args.database)
    print(
        f"rows={args.rows} median_ms={statistics.median(timings):.1f} worst_ms={max(timings):.1f}"
    )


if __name__ == "__main__":
    main()
