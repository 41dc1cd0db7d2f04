"""Fixtures for callback delivery: a real receiver, real Celery workers, a loopback-only net.

Every test here runs with the socket layer patched so that a connection to anything but
loopback raises: even a broken SSRF guard cannot send a packet to a private or public address.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gokart.celery import app as celery_app
from tests.callbacks.deliveries_given import (  # noqa: F401 -- fixtures of the admin tests
    owed_callback,
    reward_wall,
    viewer_client,
)

# --- the network: loopback only ---------------------------------------------------------------


class OutsideConnectionAttempt(ConnectionRefusedError):
    """A test tried to open a connection to an address other than loopback."""


outside_connections: list[str] = []


def _loopback_only(original):
    def connect(sock, address, *args):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0].split("%", 1)[0]
            if not ipaddress.ip_address(host).is_loopback:
                outside_connections.append(host)
                raise OutsideConnectionAttempt(f"connection to {host} blocked by the test")
        return original(sock, address, *args)

    return connect


@pytest.fixture(autouse=True)
def loopback_only_network(monkeypatch):
    """Refuse, at the socket, every connection that is not to loopback."""
    outside_connections.clear()
    monkeypatch.setattr(socket.socket, "connect", _loopback_only(socket.socket.connect))
    monkeypatch.setattr(socket.socket, "connect_ex", _loopback_only(socket.socket.connect_ex))
    yield outside_connections


@pytest.fixture(autouse=True)
def callback_settings(settings):
    """Loopback callback URLs allowed (as in local development), short timeouts for tests."""
    settings.CALLBACK_ALLOW_LOOPBACK = True
    settings.CALLBACK_CONNECT_TIMEOUT = 1.0
    settings.CALLBACK_READ_TIMEOUT = 1.0
    return settings


# --- a partner's receiver ---------------------------------------------------------------------


@dataclass
class ReceivedCallback:
    headers: dict[str, str]
    body: bytes
    received_at: float
    answered_at: float = 0.0
    method: str = "POST"
    path: str = ""  # with the query string (a templated postback's GET)

    @property
    def json(self) -> dict:
        return json.loads(self.body)

    @property
    def delivery_id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class Answer:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # the partner's processing time


class Receiver:
    """A partner's callback endpoint on 127.0.0.1: records what it receives, answers as told.

    ``answer`` decides the response to each callback (default: 200 "ok").
    """

    def __init__(self) -> None:
        self.received: list[ReceivedCallback] = []
        self.answer: Callable[[ReceivedCallback], Answer] = lambda callback: Answer()
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as partners' servers do

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                self._receive(self.rfile.read(length))

            def do_GET(self) -> None:  # noqa: N802 -- a templated postback
                self._receive(b"")

            def _receive(self, body: bytes) -> None:
                callback = ReceivedCallback(
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                    received_at=time.monotonic(),
                    method=self.command,
                    path=self.path,
                )
                answer = receiver.answer(callback)
                if answer.delay:
                    time.sleep(answer.delay)
                callback.answered_at = time.monotonic()
                with receiver._changed:
                    receiver.received.append(callback)
                    receiver._changed.notify_all()
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, format, *args) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callbacks/gokart"

    def wait_for(self, count: int, timeout: float = 20.0) -> list[ReceivedCallback]:
        """Block until at least ``count`` callbacks arrived; return them all."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError(
                    f"expected {count} callbacks within {timeout} s, got {len(self.received)}"
                )
            return list(self.received)

    def ids(self) -> list[str]:
        return [callback.delivery_id for callback in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


# --- Celery workers ---------------------------------------------------------------------------


@pytest.fixture
def celery_worker(transactional_db):
    """A real Celery worker (three threads) consuming this run's queue on the real Redis."""
    from celery.contrib.testing.worker import start_worker

    from callbacks.tasks import callback_dispatch_mark_clear

    celery_app.loader.import_default_modules()
    celery_app.control.purge()
    # A dispatch queued by an earlier test and purged just now leaves its mark for up to
    # CALLBACK_DISPATCH_COALESCE_MS: this test's first commit would not queue its own.
    callback_dispatch_mark_clear()
    with start_worker(
        celery_app, pool="threads", concurrency=3, perform_ping_check=False, loglevel="WARNING"
    ) as worker:
        yield worker


def wait_until(condition: Callable[[], bool], timeout: float = 20.0, every: float = 0.05) -> None:
    """Poll ``condition`` until it holds (the worker runs elsewhere; there is no event)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(every)


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
