"""Postback throughput: a real gunicorn on 127.0.0.1 with PostgreSQL, loaded by another process.

    .venv/bin/python bench/postback.py --seconds 20

What it does, all on this machine:

1. creates its own PostgreSQL database (``gokart_bench_postback``, dropped at the end unless
   ``--keep-db``) and migrates it;
2. seeds one automatic offer with one event, one partner *with* a callback URL (so every
   postback writes its outbox row, as in production) and enough fresh clicks;
3. starts gunicorn (``gthread`` workers, persistent database connections, ``DEBUG=0``) on a free
   port of 127.0.0.1. Callback dispatch messages are published to Redis (``--broker``, db 2 by
   default) on a private queue that nothing consumes, and that queue is deleted afterwards;
4. loads it from a separate client process: ``--connections`` keep-alive HTTP connections, each
   sending one postback for a fresh click at a time, for ``--seconds`` after a short warm-up or
   until the clicks run out;
5. checks in the database that every postback answered 200 was recorded once, with its audit
   row and its outbox row.

Connection settings: ``BENCH_POSTGRES_URL`` (default ``postgres://postgres@127.0.0.1:5432``).
Last line: ``postbacks_per_s=… p50_ms=… p99_ms=… errors=…``.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.database import (  # noqa: E402
    database_drop,
    database_recreate,
    field_encryption_key,
)

EVENT_CODE = "install"


# --- the load generator (runs in its own process) ------------------------------------------


def client_run(spec: dict) -> dict:
    """Send postbacks for ``spec["clicks"]`` over keep-alive connections; returns the tallies."""
    clicks: list[str] = spec["clicks"]
    next_index = itertools.count().__next__  # atomic under the GIL
    lock = threading.Lock()
    tallies = {"ok": 0, "ok_timed": 0, "errors": 0}
    error_samples: list[str] = []
    latencies: list[float] = []
    phase = {"timed": False, "deadline": time.monotonic() + 3600}

    def postback_path(index: int) -> str:
        query = urlencode(
            {
                "gk_click_id": clicks[index],
                "event": EVENT_CODE,
                "txn_id": f"bench-{index}",
                "token": spec["token"],
            }
        )
        return f"/postback/?{query}"

    def worker(budget: int | None) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", spec["port"], timeout=30)
        sent = 0
        own_latencies = []
        while time.monotonic() < phase["deadline"] and (budget is None or sent < budget):
            index = next_index()
            if index >= len(clicks):
                break
            sent += 1
            started = time.perf_counter()
            problem = None
            try:
                connection.request("GET", postback_path(index))
                response = connection.getresponse()
                body = response.read()
                elapsed_ms = (time.perf_counter() - started) * 1000
                if response.status != 200:
                    problem = f"HTTP {response.status}: {body[:200]!r}"
                elif json.loads(body).get("duplicate") is not False:
                    problem = f"unexpected duplicate: {body[:200]!r}"
            except (OSError, http.client.HTTPException, ValueError) as error:
                problem = f"{type(error).__name__}: {error}"
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", spec["port"], timeout=30)
            with lock:
                if problem is None:
                    tallies["ok"] += 1
                    if phase["timed"]:
                        tallies["ok_timed"] += 1
                elif len(error_samples) < 5:
                    error_samples.append(problem)
                if problem is not None:
                    tallies["errors"] += 1
            if problem is None and phase["timed"]:
                own_latencies.append(elapsed_ms)
        connection.close()
        with lock:
            latencies.extend(own_latencies)

    def run_phase(budget: int | None) -> float:
        threads = [
            threading.Thread(target=worker, args=(budget,)) for _ in range(spec["connections"])
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.perf_counter() - started

    # Warm-up: every server thread opens its database connection and broker channel.
    run_phase(spec["warmup_per_connection"])
    phase["timed"] = True
    phase["deadline"] = time.monotonic() + spec["seconds"]
    elapsed = run_phase(None)

    latencies.sort()

    def percentile(fraction: float) -> float:
        if not latencies:
            return float("nan")
        return latencies[min(len(latencies) - 1, int(fraction * len(latencies)))]

    return {
        **tallies,
        "elapsed_s": elapsed,
        "p50_ms": percentile(0.50),
        "p99_ms": percentile(0.99),
        "clicks_left": max(0, len(clicks) - next_index()),
        "error_samples": error_samples,
    }


# --- set-up, server and verification -------------------------------------------------------


def cpu_busy_percent(seconds: float = 1.0) -> float:
    """How busy this machine's CPUs are (others' work included), from /proc/stat."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as stat:
            ticks = [int(value) for value in stat.readline().split()[1:]]
        return sum(ticks), ticks[3] + ticks[4]  # total, idle + iowait

    total_before, idle_before = sample()
    time.sleep(seconds)
    total_after, idle_after = sample()
    return 100 * (1 - (idle_after - idle_before) / max(1, total_after - total_before))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def seed(*, clicks: int, callbacks: bool) -> tuple[str, list[str]]:
    """One automatic offer, one event, one partner with a callback URL, ``clicks`` fresh clicks."""
    from django.db import connection
    from django.utils import timezone

    from callbacks.models import Partner
    from conversions.models import Offer, OfferEvent

    offer = Offer.objects.create(
        name="Bench offer",
        advertiser="Bench",
        landing_url="https://advertiser.example/?click={gk_click_id}",
    )
    OfferEvent.objects.create(offer=offer, code=EVENT_CODE, name="Install", payout=1, revenue=2)
    # Nothing consumes the private queue, so this URL is never called; it makes every
    # postback write its outbox row and publish its dispatch message, as in production.
    partner = Partner.objects.create(
        name="Bench partner",
        callback_url="http://127.0.0.1:9/bench-callbacks" if callbacks else "",
    )
    ids = [uuid.uuid4().hex for _ in range(clicks)]
    now = timezone.now()
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(
            "COPY conversions_click (gk_click_id, offer_id, partner_id, sub_id, created_at)"
            " FROM STDIN"
        ) as copy,
    ):
        for number, gk_click_id in enumerate(ids):
            copy.write_row((gk_click_id, offer.pk, partner.pk, f"user-{number}", now))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return offer.postback_secret, ids


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
              (SELECT count(*) FROM callbacks_callbackdelivery)
            """
        )
        conversions, success, audit, outbox = cursor.fetchone()
    return {"conversions": conversions, "success": success, "audit": audit, "outbox": outbox}


def server_start(*, env: dict[str, str], port: int, workers: int, threads: int, log: Path):
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        "gokart.wsgi:application",
        f"--bind=127.0.0.1:{port}",
        "--worker-class=gthread",
        f"--workers={workers}",
        f"--threads={threads}",
        "--keep-alive=60",
        "--backlog=2048",
        # The workers' heartbeat file, touched on every loop: keep it in memory.
        *(["--worker-tmp-dir=/dev/shm"] if Path("/dev/shm").is_dir() else []),
        f"--error-logfile={log}",
        "--log-level=warning",
    ]
    server = subprocess.Popen(command, cwd=BASE_DIR, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited: {log.read_text()[-2000:]}")
        try:
            probe = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            probe.request("GET", "/postback/")
            if probe.getresponse().status == 400:
                return server
        except OSError:
            time.sleep(0.1)
    server.terminate()
    raise SystemExit("gunicorn did not answer within 30 s")


def server_stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def broker_queue_delete(broker_url: str, queue: str) -> None:
    import redis

    client = redis.Redis.from_url(broker_url)
    keys = [key for key in client.scan_iter(match=f"*{queue}*") if queue.encode() in key]
    if keys:
        client.delete(*keys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--connections", type=int, default=8, help="client keep-alive connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--clicks", type=int, help="clicks to seed (default: 3,000 per second)")
    parser.add_argument("--database", default="gokart_bench_postback")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/2")
    parser.add_argument(
        "--no-callbacks",
        action="store_true",
        help="partner without callback URL: no outbox row, no dispatch message (comparison only)",
    )
    parser.add_argument("--keep-db", action="store_true", help="leave the database for a look")
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.client:
        print(json.dumps(client_run(json.load(sys.stdin))))
        return

    postgres_url = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
    queue = f"gokart-bench-postback-{os.getpid()}"
    env = {
        **os.environ,
        "DATABASE_URL": f"{postgres_url}/{args.database}",
        "DATABASE_CONN_MAX_AGE": "600",
        "CELERY_BROKER_URL": args.broker,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": field_encryption_key(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "CALLBACK_ALLOW_LOOPBACK": "1",
        "LOG_LEVEL": "ERROR",
        "DJANGO_SETTINGS_MODULE": "gokart.settings",
    }
    os.environ.update(env)
    clicks = args.clicks or max(10_000, int(args.seconds * 3000))

    database_recreate(postgres_url, args.database)
    server = None
    try:
        import django
        from django.core.management import call_command
        from django.db import connections

        django.setup()
        call_command("migrate", verbosity=0)
        token, click_ids = seed(clicks=clicks, callbacks=not args.no_callbacks)
        connections.close_all()
        print(f"seeded {len(click_ids)} clicks in {args.database}", file=sys.stderr)
        # Others' work on the machine lowers the figures: say how much there was.
        busy_before = cpu_busy_percent()

        with tempfile.TemporaryDirectory(prefix="gokart-bench-") as tmp:
            port = free_port()
            server = server_start(
                env=env,
                port=port,
                workers=args.workers,
                threads=args.threads,
                log=Path(tmp) / "gunicorn.log",
            )
            spec = {
                "port": port,
                "token": token,
                "clicks": click_ids,
                "connections": args.connections,
                "seconds": args.seconds,
                "warmup_per_connection": 25,
            }
            client = subprocess.run(
                [sys.executable, __file__, "--client"],
                input=json.dumps(spec),
                capture_output=True,
                text=True,
                timeout=args.seconds + 300,
                check=False,
            )
            server_stop(server)
            if client.returncode != 0:
                raise SystemExit(f"client failed: {client.stderr[-2000:]}")
            result = json.loads(client.stdout)
            log_tail = (Path(tmp) / "gunicorn.log").read_text()[-1500:]

        counts = recorded_counts()
        connections.close_all()
    finally:
        if server is not None:
            server_stop(server)
        broker_queue_delete(args.broker, queue)
        if not args.keep_db:
            database_drop(postgres_url, args.database)

    mismatches = (
        abs(counts["conversions"] - result["ok"])
        + abs(counts["success"] - counts["conversions"])
        + abs(counts["audit"] - counts["conversions"])
        + abs(counts["outbox"] - (0 if args.no_callbacks else counts["conversions"]))
    )
    errors = result["errors"] + mismatches
    rate = result["ok_timed"] / result["elapsed_s"]
    print(
        f"client: {result['ok_timed']} postbacks in {result['elapsed_s']:.1f} s over "
        f"{args.connections} connections; server: {args.workers} gunicorn workers x "
        f"{args.threads} threads; clicks left: {result['clicks_left']}",
        file=sys.stderr,
    )
    print(
        f"CPU busy before the run (other processes): {busy_before:.0f}% of {os.cpu_count()} cores",
        file=sys.stderr,
    )
    print(f"recorded: {counts} (200 answers, warm-up included: {result['ok']})", file=sys.stderr)
    for sample in result["error_samples"]:
        print(f"error: {sample}", file=sys.stderr)
    if errors and log_tail.strip():
        print(f"gunicorn log tail:\n{log_tail}", file=sys.stderr)
    print(
        f"postbacks_per_s={rate:.0f} p50_ms={result['p50_ms']:.1f} "
        f"p99_ms={result['p99_ms']:.1f} errors={errors}"
    )


if __name__ == "__main__":
    main()
