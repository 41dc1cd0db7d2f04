"""No callback is lost: a worker killed mid-batch, a broker down while statuses change.

These tests run real ``celery worker`` processes (with beat embedded for the periodic sweep),
and for the outage their own redis-server on another port: the machine's Redis is left alone.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import kombu.pools
import pytest
from django.conf import settings

from callbacks.models import CallbackDelivery
from conversions.models import Source, Status
from conversions.services import conversion_status_set
from gokart.celery import app as celery_app
from tests.callbacks.conftest import Answer, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def worker_processes(tmp_path):
    """Start ``celery worker`` processes on this test's database; kill them all at the end.

    ``supervised=True`` restarts a worker that exits, as production's process manager does
    (a Celery worker can exit with "Unrecoverable error" when its broker vanishes mid-call).
    """
    started: list[subprocess.Popen] = []
    database = settings.DATABASES["default"]
    stopping = threading.Event()

    def supervise(process: subprocess.Popen, restart) -> None:
        while not stopping.is_set():
            if process.poll() is not None:
                process = restart()
            stopping.wait(0.5)

    def start(
        *, broker_url: str | None = None, sweep: bool = False, supervised: bool = False
    ) -> subprocess.Popen:
        var_dir = tmp_path / f"var{len(started)}"
        var_dir.mkdir()
        env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:"
            f"{database['PORT']}/{database['NAME']}",
            "DATABASE_CONN_MAX_AGE": "0",
            "CELERY_BROKER_URL": broker_url or settings.CELERY_BROKER_URL,
            "CELERY_TASK_DEFAULT_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
            "CALLBACK_ALLOW_LOOPBACK": "1",
            "CALLBACK_CONNECT_TIMEOUT": "1",
            "CALLBACK_READ_TIMEOUT": "1",
            "CALLBACK_ATTEMPT_DEADLINE_SECONDS": "1",
            "CALLBACK_LEASE_SECONDS": "3",
            "CALLBACK_CLAIM_BATCH": "20",
            "CALLBACK_SWEEP_SECONDS": "1",
            "GOKART_VAR_DIR": str(var_dir),
            "DEBUG": "1",
        }
        command = [
            CELERY,
            "-A",
            "gokart",
            "worker",
            "-c",
            "2",
            "-l",
            os.environ.get("CB_TEST_LOGLEVEL", "WARNING"),
        ]
        command += ["-n", f"callbacks-test-{os.getpid()}-{len(started)}@%h"]
        if sweep:
            command.append("-B")
        process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
        started.append(process)
        if supervised:
            threading.Thread(
                target=supervise,
                args=(process, lambda: start(broker_url=broker_url, sweep=sweep)),
                daemon=True,
            ).start()
        return process

    yield start
    stopping.set()
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def delivered_count() -> int:
    return CallbackDelivery.objects.filter(state=CallbackDelivery.State.DELIVERED).count()


def test_a_worker_killed_mid_batch_loses_no_callback(
    worker_processes, receiver, partner_factory, conversion_factory
):
    receiver.answer = lambda callback: Answer(delay=0.01)
    partner = partner_factory(callback_url=receiver.url)
    conversions = conversion_factory.create_batch(120, click__partner=partner)
    doomed = worker_processes()

    conversion_status_set(
        conversion_ids=[c.pk for c in conversions], status=Status.SUCCESS, source=Source.ADMIN
    )
    receiver.wait_for(30)
    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait(timeout=10)
    assert delivered_count() < 120
    worker_processes(sweep=True)

    wait_until(lambda: delivered_count() == 120, timeout=60)
    deliveries = {str(pk) for pk in CallbackDelivery.objects.values_list("pk", flat=True)}
    received = Counter(receiver.ids())
    assert set(received) == deliveries
    # Duplicates are allowed (at least once), but only as the same callback with the same id.
    by_id = {}
    for callback in receiver.received:
        by_id.setdefault(callback.delivery_id, set()).add(str(callback.json["conversion"]))
    assert all(len(contents) == 1 for contents in by_id.values())
    assert sum(received.values()) - len(received) <= 2 * 20  # at most the batches in flight


@contextmanager
def redis_server(port: int, directory: Path):
    """A redis-server of this test's own on ``port`` (never the machine's)."""
    process = subprocess.Popen(
        [shutil.which("redis-server") or "redis-server", "--port", str(port)]
        + ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(directory)],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: _accepts(port), timeout=10)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=10)


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


@contextmanager
def publishing_to(broker_url: str):
    """Point this process's Celery app (the on-commit dispatch) at another broker."""
    previous = celery_app.conf.broker_url

    def reset(url: str) -> None:
        kombu.pools.reset()  # kombu keeps producer pools per connection, process-wide
        celery_app._pool = None
        celery_app.amqp._producer_pool = None
        celery_app.conf.broker_url = url

    reset(broker_url)
    try:
        yield
    finally:
        reset(previous)


def test_callbacks_owed_while_the_broker_is_down_arrive_through_the_sweep(
    worker_processes, receiver, partner_factory, conversion_factory, tmp_path
):
    port = free_port()
    broker_url = f"redis://127.0.0.1:{port}/0"
    partner = partner_factory(callback_url=receiver.url)
    first, *during_outage = conversion_factory.create_batch(11, click__partner=partner)
    with publishing_to(broker_url):
        with redis_server(port, tmp_path) as redis:
            worker_processes(broker_url=broker_url, sweep=True, supervised=True)
            conversion_status_set(
                conversion_ids=[first.pk], status=Status.SUCCESS, source=Source.ADMIN
            )
            receiver.wait_for(1, timeout=30)  # the worker is up and delivering
            redis.terminate()
            redis.wait(timeout=10)

        # Statuses change while the broker is down: the dispatch messages are lost.
        conversion_status_set(
            conversion_ids=[c.pk for c in during_outage[:5]],
            status=Status.REJECTED,
            source=Source.ADMIN,
        )
        for conversion in during_outage[5:]:
            conversion_status_set(
                conversion_ids=[conversion.pk], status=Status.SUCCESS, source=Source.ADMIN
            )
        assert CallbackDelivery.objects.filter(state=CallbackDelivery.State.PENDING).count() == 10

        with redis_server(port, tmp_path):
            received = receiver.wait_for(11, timeout=90)

    assert len({c.delivery_id for c in received}) == 11
    wait_until(lambda: delivered_count() == 11)
