"""Postback throughput of the tracking tier, against its floor, in one sitting.

    .venv/bin/python bench/postback.py --seconds 20 [--workers 2] [--threads 4]
        [--connections 8] [--wrk-threads 2] [--callbacks on|off]

What it does, all on this machine:

1. creates its own PostgreSQL database (``gokart_bench_postback``, dropped at the end unless
   ``--keep-db``), migrates it and adds the floor's table (``bench.tracking_floor``);
2. seeds one automatic offer with one event, one partner *with* a callback URL (so every
   postback writes its outbox row and queues its coalesced dispatch, as in production;
   ``--callbacks off``: without) and enough fresh clicks;
3. starts the tracking tier as it is deployed (``gunicorn gokart.tracking.wsgi``, ``gthread``
   workers, pooled prepared connections, ``DEBUG=0``, rate limits checked) with the floor route,
   on a free port of 127.0.0.1. Dispatch messages go to Redis (``--broker``, db 2 by default) on
   a private queue that nothing consumes, deleted afterwards;
4. loads it with ``wrk`` (``bench.tracking_load``): the floor (one ``INSERT … RETURNING``,
   committed, answered JSON) for ``--seconds`` after a 2-second warm-up, then postbacks, each
   for a fresh click, the same way; wrk's CPU is measured from its own rusage;
5. checks in the database that every postback answered 200 was recorded once, as Success, with
   its audit row, its outbox row (callbacks on) and its tally count.

Connection settings: ``BENCH_POSTGRES_URL`` (default ``postgres://postgres@127.0.0.1:5432``).
Last line: ``postbacks_per_s=… p50_ms=… p99_ms=… errors=… floor_per_s=… ratio=…
wrk_cpu_pct=…``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent
# The project, in place of bench/ itself: bench/click.py and bench/api.py would shadow the
# click package (Celery imports it) and the api app.
sys.path[0] = str(BASE_DIR)

from bench.tracking_load import arguments_parse, report, sitting_run  # noqa: E402

EVENT_CODE = "install"


def seed(*, clicks: int, callbacks: bool) -> str:
    """One automatic offer, one event, one partner (with a callback URL when ``callbacks``) and
    ``clicks`` clicks whose ids are their numbers in 32 hex digits (as the wrk script sends)."""
    from django.db import connection
    from django.utils import timezone

    from bench.tracking_floor import FLOOR_TABLE_SQL
    from callbacks.models import Partner
    from conversions.models import Offer, OfferEvent

    offer = Offer.objects.create(
        name="Bench offer",
        advertiser="Bench",
        landing_url="https://advertiser.example/?click={gk_click_id}",
    )
    OfferEvent.objects.create(offer=offer, code=EVENT_CODE, name="Install", payout=1, revenue=2)
    # Nothing consumes the private queue, so this URL is never called.
    partner = Partner.objects.create(
        name="Bench partner",
        callback_url="http://127.0.0.1:9/bench-callbacks" if callbacks else "",
    )
    now = timezone.now()
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(
            "COPY conversions_click (gk_click_id, offer_id, partner_id, sub_id, created_at)"
            " FROM STDIN"
        ) as copy,
    ):
        for number in range(clicks):
            copy.write_row((f"{number:032x}", offer.pk, partner.pk, f"user-{number}", now))
    with connection.cursor() as cursor:
        cursor.execute(FLOOR_TABLE_SQL)
        cursor.execute("ANALYZE")
    return offer.postback_secret


def recorded_counts() -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT
              (SELECT count(*) FROM conversions_conversion),
              (SELECT count(*) FROM conversions_conversion WHERE status = 'success'),
              (SELECT count(*) FROM conversions_statuschange
                WHERE old_status = '' AND new_status = 'success' AND source = 'postback'
                  AND sequence_number = 1),
              (SELECT count(*) FROM callbacks_callbackdelivery),
              (SELECT coalesce(sum(conversions), 0) FROM conversions_conversiontally
                WHERE status = 'success')
            """
        )
        conversions, success, audit, outbox, tally = cursor.fetchone()
    return {
        "conversions": conversions,
        "success": success,
        "audit": audit,
        "outbox": outbox,
        "tally": int(tally),
    }


def rows_missing(counts: dict[str, int], *, callbacks: bool) -> int:
    """Conversions without their Success status, first audit row, outbox row (callbacks on)
    or tally count."""
    recorded = counts["conversions"]
    return (
        abs(counts["success"] - recorded)
        + abs(counts["audit"] - recorded)
        + abs(counts["outbox"] - (recorded if callbacks else 0))
        + abs(counts["tally"] - recorded)
    )


def main() -> None:
    parser = arguments_parse(__doc__.splitlines()[0], database="gokart_bench_postback")
    parser.add_argument("--clicks", type=int, help="clicks to seed (default: 5,000 per second)")
    parser.add_argument("--callbacks", choices=["on", "off"], default="on")
    parser.add_argument("--no-callbacks", action="store_true", help="the same as --callbacks off")
    args = parser.parse_args()
    callbacks = args.callbacks == "on" and not args.no_callbacks
    clicks = args.clicks or max(20_000, (args.seconds + 3) * 5000)

    sitting = sitting_run(
        args,
        name="postback",
        seed=lambda: seed(clicks=clicks, callbacks=callbacks),
        floor_kind="floor",
        endpoint_kind="postback",
        endpoint_args=lambda token: [quote(token, safe="")],
        check=lambda _: recorded_counts(),
    )
    counts = sitting.checked
    errors = sitting.errors(
        recorded=counts["conversions"],
        repeated=rows_missing(counts, callbacks=callbacks),
        connections=args.connections,
    )
    report(
        "postbacks",
        sitting,
        args,
        errors=errors,
        recorded=f"{counts}, callbacks {'on' if callbacks else 'off'}",
    )


if __name__ == "__main__":
    main()
