"""The Management API through a real gunicorn on 127.0.0.1, on a filled table (issue 22).

    .venv/bin/python bench/api.py --rows 2000000 --seconds 20

What it does, all on this machine:

1. fills its own database (``gokart_bench_api_http``; ``bench/changelist.py``'s fill, with its
   ``--keep-db`` and ``--reuse``) with ``--rows`` conversions, and creates the superuser
   ``bench`` (with its second factor) and an API key of it with every scope;
2. starts gunicorn on the whole application (``gokart.wsgi``, the deploy's settings:
   ``gthread`` workers, persistent connections, ``DEBUG=0``) with callbacks on: every change
   owed a callback writes its outbox row and publishes its dispatch message to Redis
   (``--broker``) on a private queue that nothing consumes (deleted afterwards). The per-key
   rate limit is counted (Redis) but set far above the load; the approval thresholds are
   raised so that every change applies at once;
3. status changes, ``POST /api/v1/conversions/{id}/status-changes``, each to a Pending
   conversion of its own, loaded by wrk (``bench/api_status_changes.lua``): as fast as the
   server answers over ``--connections`` for ``--seconds`` (changes/s), then at a fixed
   ``--rate`` (100/s) for ``--seconds`` (p99). wrk's own CPU time is reported: on 2 cores the
   load generator shares the machine with the server;
4. every list filter of ``GET /api/v1/conversions`` (status, source, the search by gk_click_id,
   transaction id and sub id, offer, a small partner, a created week, status + offer +
   partner), a page 1,000 cursors deep and GoKart's list (a week, first and 100th page), one
   request at a time on a keep-alive connection, ``--runs`` times each: median ms;
5. when the API serves bulk change sets: one JSON change set of ``--changes`` (100,000)
   Pending conversions to Rejected, created, checked by a real Celery worker, confirmed and
   applied (``bench/api_change_set.py``): seconds to check, seconds to apply;
6. checks in the database that every change answered 200 left its audit row.

Connection: ``BENCH_POSTGRES_URL`` (default ``postgres://postgres@127.0.0.1:5432``).
Last line: ``rows=… changes_per_s=… p99_ms_at_100=… list_worst_median_ms=… list_worst=…
cursor_1000_deep_ms=… change_set_check_s=… change_set_apply_s=… errors=… wrk_cpu_s=…`` (the
change set's figures ``nan`` when the API serves none).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
# The project, in place of bench/ itself: bench/click.py and bench/api.py would shadow the
# click package (Celery imports it) and the api app.
sys.path[0] = str(BASE_DIR)

from bench.admin_session import admin_client_verified  # noqa: E402 -- after the path is set
from bench.api_change_set import change_set_timed, change_sets_served, worker_start  # noqa: E402
from bench.changelist_fill import database_filled  # noqa: E402
from bench.database import database_drop  # noqa: E402
from bench.tracking_load import broker_queue_delete, cpu_busy_percent, free_port  # noqa: E402

DATABASE = "gokart_bench_api_http"
LUA = BASE_DIR / "bench" / "api_status_changes.lua"
WRK = "/usr/bin/wrk"


def api_key_token() -> str:
    """An API key with every scope, of the superuser ``bench`` (who has a second factor)."""
    from django.contrib.auth import get_user_model

    from api.keys import api_key_create
    from api.models import Scope

    admin_client_verified()
    user = get_user_model().objects.get(username="bench")
    _key, token = api_key_create(
        name=f"bench-{os.getpid()}", user=user, created_by=user, scopes=list(Scope.values)
    )
    return token


def pending_ids(count: int) -> list[int]:
    from conversions.models import Conversion

    return list(
        Conversion.objects.filter(status="pending")
        .order_by("-id")
        .values_list("id", flat=True)[:count]
    )


def list_queries() -> dict[str, str]:
    """Each list filter's query string, on values the fill holds."""
    from django.db.models import Max
    from django.utils import timezone

    from api.cursors import cursor_for
    from callbacks.models import Partner
    from conversions.models import Conversion, Offer

    newest = Conversion.objects.select_related("click").order_by("-id").first()
    assert newest is not None, "the fill holds no conversion"
    offer = Offer.objects.order_by("id").first()
    small_partner = Partner.objects.order_by("-id").first()  # one click in 1,000
    assert offer is not None and small_partner is not None
    top = Conversion.objects.aggregate(top=Max("id"))["top"]
    today = timezone.now().date()
    week_ago = today - timedelta(days=7)
    return {
        "list": "limit=50",
        "status": "limit=50&status=success",
        "source": "limit=50&status=success&source=admin",
        "search_click": f"search={newest.click.gk_click_id}",
        "search_transaction": f"search={newest.transaction_id}",
        "search_sub_id": "search=user-4242",
        "offer": f"limit=50&offer={offer.pk}",
        "small_partner": f"limit=50&partner={small_partner.pk}",
        "created_week": f"limit=50&created_from={week_ago}T00:00:00Z&created_to={today}T00:00:00Z",
        "status_offer_partner": (
            f"limit=50&status=rejected&offer={offer.pk}&partner={small_partner.pk}"
        ),
        "cursor_1000_deep": f"limit=50&cursor={cursor_for(last_id=top - 50 * 1000)}",
        "gokart_week": f"gokart:start_date={week_ago}&end_date={today}&page_size=100",
        "gokart_page_99": f"gokart:start_date={week_ago}&end_date={today}&page=99&page_size=100",
    }


def lists_timed(port: int, token: str, runs: int) -> dict[str, float]:
    """Median milliseconds of each list query, one request at a time."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"ApiToken {token}"}
    medians = {}
    for name, query in list_queries().items():
        path = "/api/v1/conversions?" + query
        if query.startswith("gokart:"):
            path = "/api/v1/sdk-conversion-system/conversions?" + query.removeprefix("gokart:")
        timings = []
        for run in range(runs + 1):  # the first is a warm-up
            started = time.perf_counter()
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                raise SystemExit(f"{name}: HTTP {response.status} {body[:300]!r}")
            if run:
                timings.append((time.perf_counter() - started) * 1000)
        medians[name] = statistics.median(timings)
        print(f"  list {name}: median {medians[name]:.1f} ms", file=sys.stderr, flush=True)
    connection.close()
    return medians


def wrk_run(
    *, port: int, token: str, ids: list[int], seconds: float, connections: int, rate: int
) -> tuple[dict, float]:
    """wrk's figures (``done`` in the Lua script) and its CPU seconds."""
    threads = min(2, connections)
    with tempfile.NamedTemporaryFile("w", suffix=".ids", delete=False) as ids_file:
        ids_file.write("\n".join(map(str, ids)) + "\n")
    try:
        command = [
            WRK,
            f"--threads={threads}",
            f"--connections={connections}",
            f"--duration={max(1, round(seconds))}s",
            "--timeout=10s",
            f"--script={LUA}",
            f"http://127.0.0.1:{port}",
            "--",
            ids_file.name,
            token,
            str(threads),
            str(rate),
        ]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        finished = subprocess.run(command, capture_output=True, text=True, check=False)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        os.unlink(ids_file.name)
    lines = [line for line in finished.stdout.splitlines() if line.startswith("wrk_json ")]
    if finished.returncode != 0 or not lines:
        raise SystemExit(f"wrk failed: {finished.stdout[-1500:]} {finished.stderr[-1500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return json.loads(lines[-1].removeprefix("wrk_json ")), cpu


def server_start(*, env: dict[str, str], workers: int, threads: int, log: Path) -> tuple:
    """gunicorn on a free port of 127.0.0.1, once ``/readyz`` answers 200: (process, port)."""
    port = free_port()
    options = {
        "config": "python:gokart.gunicorn_config",
        "bind": f"127.0.0.1:{port}",
        "worker-class": "gthread",
        "workers": workers,
        "threads": threads,
        "keep-alive": 60,
        "worker-tmp-dir": "/dev/shm" if Path("/dev/shm").is_dir() else None,
        "error-logfile": log,
        "log-level": "warning",
    }
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        "gokart.wsgi:application",
        *(f"--{name}={value}" for name, value in options.items() if value is not None),
    ]
    server = subprocess.Popen(command, cwd=BASE_DIR, env=env)
    for _ in range(300):
        time.sleep(0.1)
        ready_url = f"http://127.0.0.1:{port}/readyz"
        with contextlib.suppress(OSError), urllib.request.urlopen(ready_url, timeout=2) as ready:
            if ready.status == 200:
                return server, port
        if server.poll() is not None:
            break
    server_stop(server)
    raise SystemExit(f"gunicorn not ready within 30 s: {log.read_text()[-2000:]}")


def server_stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def changes_recorded_since(started) -> int:  # noqa: ANN001
    from conversions.models import StatusChange

    return StatusChange.objects.filter(created_at__gte=started, reason__startswith="bench").count()


def server_environment(args: argparse.Namespace, queue: str) -> dict[str, str]:
    return {
        **os.environ,
        "CELERY_BROKER_URL": args.broker,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        # The change set's check and apply go to a worker of their own queue.
        "IMPORT_TASK_QUEUE": f"{queue}-imports",
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "ERROR",
        # Counted, never refusing: the limiter's Redis round trip is part of every request.
        "API_RATE_LIMIT_PER_MINUTE": str(10**9),
        # Every change applies at once: none waits for a second person.
        "IMPORT_APPROVAL_MIN_CONVERSIONS": str(10**12),
        "IMPORT_APPROVAL_MIN_PAYOUT": "",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--connections", type=int, default=8, help="wrk's connections")
    parser.add_argument("--rate", type=int, default=100, help="fixed rate of the p99 run")
    parser.add_argument("--runs", type=int, default=7, help="timed requests per list query")
    parser.add_argument("--changes", type=int, default=100_000, help="changes in the change set")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/2")
    parser.add_argument("--keep-db", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--reuse", action="store_true", help="skip the fill when the database holds --rows"
    )
    args = parser.parse_args()

    postgres_url = database_filled(
        database=args.database, rows=args.rows, reuse=args.reuse, secret_key="bench-api-not-secret"
    )
    queue = f"gokart-bench-api-{os.getpid()}"
    server = None
    try:
        from django.db import connections
        from django.utils import timezone

        token = api_key_token()
        # Enough Pending conversions for the fastest rate seen here, twice over; each run its own.
        wanted = int(args.seconds * 1500)
        ids = pending_ids(2 * wanted + args.changes)
        change_set_ids = ids[: args.changes]
        throughput_ids, rate_ids = ids[args.changes :: 2], ids[args.changes + 1 :: 2]
        connections.close_all()
        busy_before = cpu_busy_percent()
        with tempfile.TemporaryDirectory(prefix="gokart-bench-api-") as tmp:
            server, port = server_start(
                env=server_environment(args, queue),
                workers=args.workers,
                threads=args.threads,
                log=Path(tmp) / "gunicorn.log",
            )
            started = timezone.now()
            fastest, fastest_cpu = wrk_run(
                port=port,
                token=token,
                ids=throughput_ids,
                seconds=args.seconds,
                connections=args.connections,
                rate=0,
            )
            steady, steady_cpu = wrk_run(
                port=port,
                token=token,
                ids=rate_ids,
                seconds=args.seconds,
                connections=max(args.connections, 10),
                rate=args.rate,
            )
            medians = lists_timed(port, token, args.runs)
            bulk = {}
            if change_sets_served(port):
                environment = server_environment(args, queue)
                worker = worker_start(
                    environment, environment["IMPORT_TASK_QUEUE"], Path(tmp) / "worker.log"
                )
                try:
                    bulk = change_set_timed(port=port, token=token, event_ids=change_set_ids)
                finally:
                    server_stop(worker)
            server_stop(server)
            log_tail = (Path(tmp) / "gunicorn.log").read_text()[-1500:]
        recorded = changes_recorded_since(started)
        connections.close_all()
    finally:
        if server is not None:
            server_stop(server)
        broker_queue_delete(args.broker, queue)  # the imports' queue too: its name holds it
        if not args.keep_db:
            from django.db import connections

            connections.close_all()
            database_drop(postgres_url, args.database)

    answered = sum(run["requests"] - run["errors_status"] for run in (fastest, steady))
    failed = sum(
        run[name]
        for run in (fastest, steady)
        for name in ("errors_status", "errors_connect", "errors_read", "errors_timeout")
    )
    # A request still in flight when wrk stops is applied but not counted: at most one per
    # connection and run. Beyond that, an audit row without its answer (or the other way) is an
    # error.
    in_flight = args.connections + max(args.connections, 10)
    errors = failed + max(0, answered - recorded) + max(0, recorded - answered - in_flight)
    changes_per_s = (fastest["requests"] - fastest["errors_status"]) / (
        fastest["duration_us"] / 1e6
    )
    steady_rate = steady["requests"] / (steady["duration_us"] / 1e6)
    worst = max(medians, key=medians.__getitem__)
    print(
        f"status changes: {fastest['requests']} as fast as answered over {args.connections} "
        f"connections (p50 {fastest['p50_us'] / 1000:.1f} ms, p99 {fastest['p99_us'] / 1000:.1f}"
        f" ms), then {steady['requests']} at {steady_rate:.0f}/s; audit rows {recorded} for "
        f"{answered} answers; server: {args.workers} gunicorn workers x {args.threads} threads",
        file=sys.stderr,
    )
    print(
        f"wrk CPU: {fastest_cpu:.2f} s in the fastest run, {steady_cpu:.2f} s at the fixed rate; "
        f"CPU busy before the run (other processes): {busy_before:.0f}% of {os.cpu_count()} "
        "cores",
        file=sys.stderr,
    )
    if errors and log_tail.strip():
        print(f"gunicorn log tail:\n{log_tail}", file=sys.stderr)
    print(
        f"rows={args.rows} changes_per_s={changes_per_s:.0f} "
        f"p99_ms_at_{args.rate}={steady['p99_us'] / 1000:.1f} "
        f"list_worst_median_ms={medians[worst]:.1f} list_worst={worst} "
        f"cursor_1000_deep_ms={medians['cursor_1000_deep']:.1f} "
        f"change_set_check_s={bulk.get('checked_s', float('nan')):.1f} "
        f"change_set_apply_s={bulk.get('applied_s', float('nan')):.1f} errors={errors} "
        f"wrk_cpu_s={fastest_cpu + steady_cpu:.2f}"
    )


if __name__ == "__main__":
    main()
