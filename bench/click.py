"""Click throughput of the tracking tier, against its floor, in one sitting.

    .venv/bin/python bench/click.py --seconds 20 [--workers 2] [--threads 4]
        [--connections 8] [--wrk-threads 2]

As ``bench/postback.py`` (its own database ``gokart_bench_click``, the tracking tier under
gunicorn with the floor route, wrk with the same Lua script): the floor here inserts one row
and answers a redirect, as a click does; then clicks, each with a fresh sub id, are loaded the
same way. Checks that every click answered 302 was recorded once, for the offer and partner.

Last line: ``clicks_per_s=… p50_ms=… p99_ms=… errors=… floor_per_s=… ratio=… wrk_cpu_pct=…``.
"""

from __future__ import annotations

import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
# The project, in place of bench/ itself: bench/click.py and bench/api.py would shadow the
# click package (Celery imports it) and the api app.
sys.path[0] = str(BASE_DIR)

from bench.tracking_load import arguments_parse, report, sitting_run  # noqa: E402


def seed() -> tuple[int, int]:
    """One active offer and one active partner; the floor's table."""
    from django.db import connection

    from bench.tracking_floor import FLOOR_TABLE_SQL
    from callbacks.models import Partner
    from conversions.models import Offer

    offer = Offer.objects.create(
        name="Bench offer",
        advertiser="Bench",
        landing_url="https://advertiser.example/?click={gk_click_id}",
    )
    partner = Partner.objects.create(name="Bench partner", callback_url="")
    with connection.cursor() as cursor:
        cursor.execute(FLOOR_TABLE_SQL)
        cursor.execute("ANALYZE")
    return offer.pk, partner.pk


def clicks_recorded(offer_id: int, partner_id: int) -> tuple[int, int]:
    """Clicks recorded for the offer and partner, and sub ids recorded more than once."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*), count(*) - count(DISTINCT sub_id) FROM conversions_click
            WHERE offer_id = %s AND partner_id = %s
            """,
            [offer_id, partner_id],
        )
        return cursor.fetchone()


def main() -> None:
    args = arguments_parse(__doc__.splitlines()[0], database="gokart_bench_click").parse_args()
    sitting = sitting_run(
        args,
        name="click",
        seed=seed,
        floor_kind="floor_click",
        endpoint_kind="click",
        endpoint_args=lambda ids: [str(ids[0]), str(ids[1])],
        check=lambda ids: clicks_recorded(*ids),
    )
    recorded, repeated = sitting.checked
    errors = sitting.errors(recorded=recorded, repeated=repeated, connections=args.connections)
    report(
        "clicks",
        sitting,
        args,
        errors=errors,
        recorded=f"{recorded} clicks",
    )


if __name__ == "__main__":
    main()
