"""Callback delivery: throughput of two Celery workers, and latency at a steady rate.

    .venv/bin/python bench/callbacks.py --count 100000

What it does, all on this machine:

1. creates its own PostgreSQL database (``gokart_bench_callbacks``, dropped at the end unless
   ``--keep-db``) and migrates it; seeds one offer, one partner whose callback URL is the
   receiver, and ``--count`` Pending conversions (set-based SQL);
2. starts a receiver process on 127.0.0.1 (keep-alive HTTP/1.1) that verifies every request's
   Standard Webhooks signature with the partner's secret and records each delivery id, its
   conversion and sequence number, and when it arrived;
3. starts two ``celery worker`` processes (``--concurrency`` pool processes each, the first
   with beat for the sweep) on a private queue of the Redis given by ``--broker`` (db 5 by
   default; the queue is deleted afterwards);
4. throughput: sets every conversion to Success in one call of the status-change service (so
   the outbox rows are written set-based, in the same transaction) and times from its commit
   until the receiver holds every delivery;
5. latency: changes one conversion at a time to Rejected at a steady ``--rate`` per second for
   ``--latency-seconds`` and measures, per change, from its commit to its receipt;
6. checks that every delivery in the database reached the receiver (``lost``), counts ids
   received more than once (``duplicate_ids``) and signatures that did not verify.

With ``--paused-backlog N`` a second partner (same receiver, same secret) is paused before the
throughput phase and ``N / 2`` of its conversions change twice (Success, then Rejected): ``N``
held callbacks sit in the outbox while the other phases run; after the latency phase it is
resumed and the drain is timed. Its last-line fields: ``resumed_per_s`` (held callbacks
received per second after the resume's commit), ``resumed_lost`` (held ones never received) and
``order_violations`` (conversions whose Rejected arrived before their Success).

With ``--templated-postbacks`` half the partners are on templated postbacks: the conversions
are split between the JSON partner and a second partner with only a global postback URL
(``/pb?id={callback_id}&c={conversion_id}&n={status_change_number}&s={status}&p={payout}`` on
the same receiver, which records each GET as it does a callback), so the same outbox and
workers deliver both kinds; the last line adds ``order_violations`` over every conversion.

Connection settings: ``BENCH_POSTGRES_URL`` (default ``postgres://postgres@127.0.0.1:5432``).
Last line: ``delivered=… lost=… duplicate_ids=… deliveries_per_s=… p50_ms=… p99_ms=…`` (and
``resumed_per_s=… resumed_lost=… order_violations=…`` with ``--paused-backlog``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
# The project, in place of bench/ itself: bench/click.py and bench/api.py would shadow the
# click package (Celery imports it) and the api app.
sys.path[0] = str(BASE_DIR)

from bench.callbacks_seed import order_violations, paused_backlog_seed, seed  # noqa: E402
from bench.database import (  # noqa: E402
    database_drop,
    database_recreate,
    field_encryption_key,
)

DATABASE = "gokart_bench_callbacks"
# The templated postback partner's URL (``--templated-postbacks``); {port} is the receiver's.
POSTBACK_TEMPLATE = (
    "http://127.0.0.1:{port}/pb?id={{callback_id}}&c={{conversion_id}}"
    "&n={{status_change_number}}&s={{status}}&p={{payout}}"
)
QUEUE = "gokart-bench-callbacks"


# --- the receiver (runs in its own process) ---------------------------------------------------


def receiver_run(port: int, secret: str) -> None:
    """A partner's endpoint: verify, record, answer 204. GET /stats and GET /dump report."""
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError

    webhook = Webhook(secret)
    lock = threading.Lock()
    records: list[tuple[str, int, int, float]] = []
    stats = {"received": 0, "bad_signatures": 0}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            arrived = time.time()
            try:
                payload = webhook.verify(body, dict(self.headers))
            except WebhookVerificationError:
                with lock:
                    stats["bad_signatures"] += 1
                self._answer(401, b"bad signature")
                return
            conversion = payload["conversion"]
            with lock:
                records.append(
                    (
                        payload["id"],
                        conversion["conversionId"],
                        conversion["statusChangeNumber"],
                        arrived,
                    )
                )
                stats["received"] += 1
            self._answer(204, b"")

        def do_GET(self) -> None:  # noqa: N802
            if self.path.startswith("/pb?"):  # a templated postback
                arrived = time.time()
                query = dict(parse_qsl(urlsplit(self.path).query))
                with lock:
                    records.append((query["id"], int(query["c"]), int(query["n"]), arrived))
                    stats["received"] += 1
                self._answer(204, b"")
                return
            with lock:
                data = stats if self.path == "/stats" else {"records": records, **stats}
                body = json.dumps(data).encode()
            self._answer(200, body)

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.request_queue_size = 128
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever()


def receiver_get(port: int, path: str) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=60) as response:
        return json.loads(response.read())


# --- set-up -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def workers_start(*, env: dict, concurrency: int, var_dir: Path) -> list[subprocess.Popen]:
    celery = str(Path(sys.executable).with_name("celery"))
    processes = []
    for index in range(2):
        (var_dir / f"worker{index}").mkdir(parents=True, exist_ok=True)
        command = [celery, "-A", "gokart", "worker", "-c", str(concurrency), "-l", "WARNING"]
        command += ["-n", f"bench-callbacks-{index}@%h", "-Q", QUEUE]
        if index == 0:
            command.append("-B")  # the periodic sweep, as in production
        processes.append(
            subprocess.Popen(
                command,
                cwd=BASE_DIR,
                env={**env, "GOKART_VAR_DIR": str(var_dir / f"worker{index}")},
                start_new_session=True,
            )
        )
    return processes


def wait_received(port: int, total: int, *, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        stats = receiver_get(port, "/stats")
        if stats["received"] >= total or time.monotonic() > deadline:
            return stats
        time.sleep(0.02)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


# --- the benchmark ----------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=100.0, help="changes/s, latency phase")
    parser.add_argument("--latency-seconds", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=2, help="pool processes per worker")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/5")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument(
        "--paused-backlog", type=int, default=0, help="held callbacks of a paused partner"
    )
    parser.add_argument(
        "--templated-postbacks",
        action="store_true",
        help="half the conversions to a partner on templated postbacks",
    )
    args = parser.parse_args()

    server_url = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
    latency_changes = int(args.rate * args.latency_seconds)
    if latency_changes > args.count:
        parser.error("--count must be at least --rate × --latency-seconds")
    env = {
        **os.environ,
        "DATABASE_URL": f"{server_url}/{DATABASE}",
        "DATABASE_CONN_MAX_AGE": "600",
        "CELERY_BROKER_URL": args.broker,
        "CELERY_TASK_DEFAULT_QUEUE": QUEUE,
        "CALLBACK_ALLOW_LOOPBACK": "1",
        "DEBUG": "0",
        "GOKART_ALLOW_INSECURE_KEY": "1",
        "FIELD_ENCRYPTION_KEYS": field_encryption_key(),
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    database_recreate(server_url, DATABASE)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=BASE_DIR,
        env=env,
        check=True,
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gokart.settings")
    import django

    django.setup()
    from django.db import connection

    from callbacks.models import CallbackDelivery
    from conversions.models import Source, Status
    from conversions.services import conversion_status_set
    from gokart.celery import app as celery_app

    port = free_port()
    print(f"seeding {args.count} conversions…", flush=True)
    secret, conversion_ids = seed(
        count=args.count,
        callback_url=f"http://127.0.0.1:{port}/gokart/callbacks",
        postback_url=POSTBACK_TEMPLATE.format(port=port) if args.templated_postbacks else "",
    )
    held_ids: set[str] = set()
    if args.paused_backlog:
        print(f"seeding a paused partner with {args.paused_backlog} held callbacks…", flush=True)
        paused_partner, held_ids = paused_backlog_seed(
            count=args.paused_backlog,
            callback_url=f"http://127.0.0.1:{port}/gokart/callbacks",
            secret=secret,
        )
    receiver = subprocess.Popen(
        [sys.executable, __file__, "--receiver", str(port), secret], cwd=BASE_DIR
    )
    var_dir = Path(tempfile.mkdtemp(prefix="bench-callbacks-"))
    workers: list[subprocess.Popen] = []
    try:
        wait_port(port)
        workers = workers_start(env=env, concurrency=args.concurrency, var_dir=var_dir)
        time.sleep(3)  # let both workers connect (not measured)

        # Throughput: every conversion to Success in one service call, drained by two workers.
        started = time.time()
        result = conversion_status_set(
            conversion_ids=conversion_ids, status=Status.SUCCESS, source=Source.ADMIN
        )
        committed = time.time()
        print(
            f"status change of {result.changed} conversions with {result.callbacks} outbox rows:"
            f" {committed - started:.1f} s",
            flush=True,
        )
        stats = wait_received(port, result.callbacks, timeout=max(120, args.count / 100))
        drained = time.time()
        deliveries_per_s = stats["received"] / (drained - committed)
        print(
            f"drain: {stats['received']} received in {drained - committed:.1f} s"
            f" = {deliveries_per_s:.0f}/s",
            flush=True,
        )

        # Latency: single changes at a steady rate.
        commit_times: dict[int, float] = {}
        interval = 1.0 / args.rate
        next_at = time.monotonic()
        for conversion_id in conversion_ids[:latency_changes]:
            next_at += interval
            pause = next_at - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            conversion_status_set(
                conversion_ids=[conversion_id], status=Status.REJECTED, source=Source.ADMIN
            )
            commit_times[conversion_id] = time.time()
        expected = result.callbacks + latency_changes
        stats = wait_received(port, expected, timeout=60)

        # The paused partner's backlog: resumed, drained in each conversion's order.
        resumed_per_s = 0.0
        if held_ids:
            from callbacks.pausing import partner_resume

            resumed = partner_resume(partner_id=paused_partner)
            resumed_at = time.time()
            stats = wait_received(
                port, expected + resumed, timeout=max(120, args.paused_backlog / 100)
            )
            resumed_per_s = (stats["received"] - expected) / (time.time() - resumed_at)
            print(
                f"resume: {stats['received'] - expected} of {resumed} held received"
                f" = {resumed_per_s:.0f}/s",
                flush=True,
            )
        dump = receiver_get(port, "/dump")
    finally:
        for process in workers:
            if process.poll() is None:
                process.terminate()  # warm shutdown: the worker stops its own pool
        for process in workers:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        receiver.terminate()
        receiver.wait(timeout=10)
        with celery_app.connection_for_write() as broker:
            broker.default_channel.queue_delete(QUEUE)

    received_ids = [record[0] for record in dump["records"]]
    distinct = set(received_ids)
    expected_ids = {str(pk) for pk in CallbackDelivery.objects.values_list("pk", flat=True)}
    lost = len(expected_ids - distinct)
    latencies = [
        (arrived - commit_times[conversion_id]) * 1000
        for _, conversion_id, sequence, arrived in dump["records"]
        if sequence == 3 and conversion_id in commit_times
    ]
    print(
        f"latency: {len(latencies)} changes at {args.rate:g}/s, mean"
        f" {statistics.fmean(latencies):.1f} ms; bad signatures {dump['bad_signatures']}",
        flush=True,
    )
    resumed_fields = ""
    if args.templated_postbacks and not held_ids:
        resumed_fields = f" order_violations={order_violations(dump['records'], distinct)}"
    if held_ids:
        resumed_lost = len(held_ids - distinct)
        violations = order_violations(dump["records"], held_ids)
        resumed_fields = (
            f" resumed_per_s={resumed_per_s:.0f} resumed_lost={resumed_lost}"
            f" order_violations={violations}"
        )
    connection.close()
    if not args.keep_db:
        database_drop(server_url, DATABASE)
    print(
        f"delivered={len(distinct & expected_ids)} lost={lost}"
        f" duplicate_ids={len(received_ids) - len(distinct)}"
        f" deliveries_per_s={deliveries_per_s:.0f} p50_ms={percentile(latencies, 0.5):.1f}"
        f" p99_ms={percentile(latencies, 0.99):.1f}{resumed_fields}"
    )


def wait_port(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"the receiver did not start on port {port}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--receiver":
        receiver_run(int(sys.argv[2]), sys.argv[3])
    else:
        main()
