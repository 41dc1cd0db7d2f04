"""Postback throughput of the tracking tier, against its floor, in one sitting.

    .venv/bin/python bench/postback.py --seconds 20 [--workers 2] [--threads 4]
        [--connections 8] [--wrk-threads 2] [--callbacks on|off] [--gokart-params]

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

``--gokart-params``: the plain postback takes the floor's place, and the timed endpoint is the
postback with GoKart's names and every ``cnv_*`` value (``cnv_event_id``, ``cnv_conversion_id``,
``cnv_amount``, ``cnv_user_id``, ``cnv_conversion_ip_address``, ``cnv_sub_1`` … ``5``), each
on clicks of its own (twice as many seeded): ``ratio`` is then GoKart's over the plain one, in
the same sitting (issue 24 asks for at least 0.95).

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
                WHERE status = 'success'),
              (SELECT count(*) FROM conversions_conversion
                WHERE cnv_amount = 49.99 AND cnv_sub_5 = 's5'
                  AND cnv_conversion_ip_address = '203.0.113.42')
            """
        )
        conversions, success, audit, outbox, tally, gokart = cursor.fetchone()
    return {
        "conversions": conversions,
        "gokart": gokart,
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
    parser.add_argument(
        "--gokart-params",
        action="store_true",
        help="time the postback with GoKart's cnv_* parameters against the plain one",
    )
    args = parser.parse_args()
    callbacks = args.callbacks == "on" and not args.no_callbacks
    # Each round's plain (or floor) and GoKart runs use clicks of their own.
    clicks = (args.clicks or max(20_000, (args.seconds + 3) * 5000)) * args.rounds
    gokart = args.gokart_params

    def token_args(token: str) -> list[str]:
        return [quote(token, safe="")]

    sitting = sitting_run(
        args,
        name="postback",
        seed=lambda: seed(clicks=clicks * 2 if gokart else clicks, callbacks=callbacks),
        floor_kind="postback" if gokart else "floor",
        floor_args=token_args if gokart else lambda _: [],
        endpoint_kind="postback_gokart" if gokart else "postback",
        endpoint_args=(lambda token: [*token_args(token), str(clicks)]) if gokart else token_args,
        check=lambda _: recorded_counts(),
    )
    counts = sitting.checked
    errors = sitting.errors(
        recorded=counts["gokart"] if gokart else counts["conversions"],
        repeated=rows_missing(counts, callbacks=callbacks),
        connections=args.connections,
    )
    if gokart:  # the plain postbacks' failures count too
        errors += sum(run.errors for run in sitting.floor)
    report(
        "postbacks_gokart" if gokart else "postbacks",
        sitting,
        args,
        errors=errors,
        recorded=f"{counts}, callbacks {'on' if callbacks else 'off'}",
        floor_name="plain postbacks" if gokart else "floor",
    )


if __name__ == "__main__":
    main()
