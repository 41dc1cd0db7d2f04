"""What ``bench/postback.py`` and ``bench/click.py`` share: the tracking tier under gunicorn
(``gokart.tracking``'s application with the floor route of ``bench.tracking_floor``:
``bench.tracking_floor_wsgi``), loaded by ``wrk`` (``bench.wrk_load``), one sitting from the
database's creation to its check and drop, and the report.

Each endpoint is warmed up first (every server thread takes its pooled connection and prepares
its statements), then timed; the floor and the endpoint run against the same server, one after
the other, in the same sitting. wrk counts a response of status 400 or more as an error; a
request still in flight when wrk stops is neither counted nor lost (the checks allow for them).
"""

from __future__ import annotations

import argparse
import http.client
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from bench.wrk_load import LoadRun, summary_line, warmed_run

BASE_DIR = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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


def server_environment(*, postgres_url: str, database: str, broker: str, queue: str) -> dict:
    """The tracking server's environment: production-like (``DEBUG=0``), its own database and
    queue, rate limits checked on every request (one Redis round trip, as in production) but
    too high to refuse any."""
    from bench.database import field_encryption_key

    return {
        **os.environ,
        "DATABASE_URL": f"{postgres_url}/{database}",
        "CELERY_BROKER_URL": broker,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": field_encryption_key(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "CALLBACK_ALLOW_LOOPBACK": "1",
        "LOG_LEVEL": "ERROR",
        "TRACKING_RATE_PER_OFFER": "1000000",
        "TRACKING_BURST_PER_OFFER": "1000000",
        "DJANGO_SETTINGS_MODULE": "gokart.settings",
    }


class TrackingServer:
    """gunicorn serving the tracking tier with the floor route on a free port of 127.0.0.1."""

    def __init__(self, *, env: dict, workers: int, threads: int, log: Path) -> None:
        self.port = free_port()
        self.log = log
        command = [
            str(Path(sys.executable).with_name("gunicorn")),
            "bench.tracking_floor_wsgi:application",
            "-c",
            "python:gokart.gunicorn_config",
            f"--bind=127.0.0.1:{self.port}",
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
        server_env = {**env, "TRACKING_DATABASE_POOL_SIZE": str(threads)}
        self.process = subprocess.Popen(command, cwd=BASE_DIR, env=server_env)  # noqa: S603
        self._ready_wait()

    def _ready_wait(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited: {self.log.read_text()[-2000:]}")
            try:
                probe = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                probe.request("GET", "/readyz")
                if probe.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise SystemExit("gunicorn was not ready within 30 s")

    def cpu_seconds(self) -> float:
        """CPU time of the master and its workers so far."""
        total = 0.0
        try:
            master = psutil.Process(self.process.pid)
            for process in [master, *master.children(recursive=True)]:
                times = process.cpu_times()
                total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
        return total

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def arguments_parse(description: str, *, database: str) -> argparse.ArgumentParser:
    """The options both benchmarks take (each adds its own before parsing)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=8, help="wrk's keep-alive connections")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--database", default=database)
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/2")
    parser.add_argument("--keep-db", action="store_true", help="leave the database for a look")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="floor and endpoint this many times each, alternately; the medians are reported",
    )
    return parser


@dataclass(frozen=True)
class Sitting:
    """One benchmark sitting: the floor's runs and the endpoint's (warm-up, timed), what the
    check of the database found, and how busy the machine was before."""

    floor: list[LoadRun]  # warm-up, timed, for each round
    endpoint: list[LoadRun]
    checked: Any
    busy_before: float
    log_tail: str

    @property
    def timed_floor(self) -> list[LoadRun]:
        return self.floor[1::2]

    @property
    def timed_endpoint(self) -> list[LoadRun]:
        return self.endpoint[1::2]

    def errors(self, *, recorded: int, repeated: int, connections: int) -> int:
        """The endpoint's errors, plus every answer not recorded once: ``recorded`` may exceed
        the answers by the requests in flight when each run stopped (or that timed out)."""
        answered = sum(run.answered_ok for run in self.endpoint)
        failed = sum(run.errors for run in self.endpoint)
        unanswered = recorded - answered
        in_flight = len(self.endpoint) * connections + failed
        return failed + repeated + (0 if 0 <= unanswered <= in_flight else abs(unanswered))


def sitting_run(
    args: argparse.Namespace,
    *,
    name: str,
    seed: Callable[[], Any],
    floor_kind: str,
    endpoint_kind: str,
    endpoint_args: Callable[[Any], list[str]],
    check: Callable[[Any], Any],
    floor_args: Callable[[Any], list[str]] = lambda seeded: [],
) -> Sitting:
    """Create and migrate the database, ``seed()`` it, start the server, run the floor and the
    endpoint ``args.rounds`` times (the endpoint first in every other round; each run goes on
    from the click numbers its kind's last run stopped at), stop the server, ``check(seeded)``
    the database, clean up."""
    from bench.database import database_drop, database_recreate

    postgres_url = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
    queue = f"gokart-bench-{name}-{os.getpid()}"
    env = server_environment(
        postgres_url=postgres_url, database=args.database, broker=args.broker, queue=queue
    )
    os.environ.update(env)
    load = {"seconds": args.seconds, "connections": args.connections, "threads": args.wrk_threads}
    database_recreate(postgres_url, args.database)
    server = None
    try:
        import django
        from django.core.management import call_command
        from django.db import connections

        django.setup()
        call_command("migrate", verbosity=0)
        seeded = seed()
        connections.close_all()
        busy_before = cpu_busy_percent()  # others' work on the machine lowers the figures
        with tempfile.TemporaryDirectory(prefix="gokart-bench-") as tmp:
            log = Path(tmp) / "gunicorn.log"
            server = TrackingServer(env=env, workers=args.workers, threads=args.threads, log=log)
            floor: list[LoadRun] = []
            endpoint: list[LoadRun] = []
            for number in range(args.rounds):
                pair = [
                    (floor_kind, floor, floor_args(seeded)),
                    (endpoint_kind, endpoint, endpoint_args(seeded)),
                ]
                # The floor first, then the endpoint first, and so on: neither always has the
                # emptier tables, nor runs before autovacuum wakes.
                for kind, runs, kind_args in pair if number % 2 == 0 else pair[::-1]:
                    first = runs[-1].next_index if runs else 0
                    runs += warmed_run(server, kind=kind, first_index=first, args=kind_args, **load)
            server.stop()
            log_tail = log.read_text()[-1500:]
        checked = check(seeded)
        connections.close_all()
    finally:
        if server is not None:
            server.stop()
        broker_queue_delete(args.broker, queue)
        if not args.keep_db:
            database_drop(postgres_url, args.database)
    return Sitting(floor, endpoint, checked, busy_before, log_tail)


def report(
    name: str,
    sitting: Sitting,
    args: argparse.Namespace,
    *,
    errors: int,
    recorded: str,
    floor_name: str = "floor",
):
    """Print what was measured (stderr) and the last line, ``<name>_per_s=… floor_per_s=…
    ratio=…`` (``floor_name``: what the floor's runs loaded, when not the floor). Over several
    rounds each figure is the median of its rounds, and the ratio the median of the rounds'
    ratios (each round's two runs were neighbours in time)."""
    rounds = list(zip(sitting.timed_floor, sitting.timed_endpoint, strict=True))
    floor, timed = _median_round(rounds)
    ratios = sorted(run.per_second / max(1e-9, base.per_second) for base, run in rounds)
    lines = []
    for number, (base, run) in enumerate(rounds, start=1):
        label = f"round {number}: " if len(rounds) > 1 else ""
        lines.append(label + summary_line(floor_name, base, connections=args.connections))
        lines.append(label + summary_line(name, run, connections=args.connections))
    print(
        f"server: tracking tier, {args.workers} gunicorn workers x {args.threads} threads; "
        f"CPU busy before the run (other processes): {sitting.busy_before:.0f}% of "
        f"{os.cpu_count()} cores",
        *lines,
        f"recorded: {recorded} (answers below 400, warm-up included: "
        f"{sum(run.answered_ok for run in sitting.endpoint)})",
        sep="\n",
        file=sys.stderr,
    )
    if errors and sitting.log_tail.strip():
        print(f"gunicorn log tail:\n{sitting.log_tail}", file=sys.stderr)
    print(
        f"{name}_per_s={timed.per_second:.0f} p50_ms={timed.p50_ms:.1f} "
        f"p99_ms={timed.p99_ms:.1f} errors={errors} floor_per_s={floor.per_second:.0f} "
        f"ratio={statistics.median(ratios):.2f} "
        f"wrk_cpu_pct={timed.wrk_cpu_percent:.0f}"
        + (
            f" rounds={len(rounds)} ratios={','.join(f'{r:.2f}' for r in ratios)}"
            if len(rounds) > 1
            else ""
        )
    )


def _median_round(rounds: list[tuple[LoadRun, LoadRun]]) -> tuple[LoadRun, LoadRun]:
    """The floor run and the endpoint run of median speed, each among its own kind."""
    floors = sorted((base for base, _ in rounds), key=lambda run: run.per_second)
    runs = sorted((run for _, run in rounds), key=lambda run: run.per_second)
    return floors[len(floors) // 2], runs[len(runs) // 2]


def broker_queue_delete(broker_url: str, queue: str) -> None:
    import redis

    client = redis.Redis.from_url(broker_url)
    keys = [key for key in client.scan_iter(match=f"*{queue}*") if queue.encode() in key]
    if keys:
        client.delete(*keys)
