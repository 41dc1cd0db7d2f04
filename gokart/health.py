"""Health of a web process, for load balancers and orchestrators: ``/healthz`` and ``/readyz``.

Both the admin's application (``gokart.wsgi``) and the tracking tier's
(``gokart.tracking.wsgi``) answer them, in front of Django (:func:`health_answered` wraps the
WSGI application): a probe runs no middleware and no URL resolution, is neither refused by
``ALLOWED_HOSTS`` (an orchestrator's probe names the pod's address as its host) nor redirected
to HTTPS, and is cheap enough to be polled every second. gunicorn's access log leaves these
two paths out (``gokart.gunicorn_config``): they are never logged per request.

- ``/healthz``: 200 ``{"status": "ok"}`` while the process answers; it touches nothing else
  (a liveness probe: restart the process when it fails).
- ``/readyz``: 200 ``{"status": "ready", "postgresql": "ok", "redis": "ok"}`` when PostgreSQL
  answers a read of ``django_migrations`` and Redis (the broker, when it is Redis; "not used"
  otherwise) answers ``PING``, each within ``HEALTH_DEADLINE_SECONDS`` (1 s), both checked at
  once; otherwise 503 with ``"status": "unavailable"`` and, for the one that failed, "no answer
  within 1 s" or "failed (<error class>)" (a readiness probe: send no traffic while it fails).
  The answer names no host or address: on the tracking tier it is public. A dependency that
  starts or stops failing is logged once, with the error, not per probe.

Each dependency is checked by a thread of its own that keeps its own connection (the process's
pool, when PostgreSQL's is pooled), so a probe opens no connection. A check that hangs (a
network partition: no refusal, no answer) is abandoned at the deadline and probes made while it
still hangs answer 503 at once instead of queueing more checks behind it.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

HEALTH_PATHS = frozenset({"/healthz", "/readyz"})
HEALTH_DEADLINE_SECONDS = 1.0

WSGIApplication = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def health_answered(application: WSGIApplication) -> WSGIApplication:
    """``application`` with ``/healthz`` and ``/readyz`` answered before it is called."""

    def answered(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            return _answer(start_response, 200, {"status": "ok"})
        if path == "/readyz":
            ready, dependencies = readiness_check()
            status = "ready" if ready else "unavailable"
            return _answer(
                start_response, 200 if ready else 503, {"status": status, **dependencies}
            )
        return application(environ, start_response)

    return answered


def _answer(start_response: Callable[..., Any], status: int, body: dict[str, str]) -> list[bytes]:
    content = json.dumps(body).encode()
    reason = "OK" if status == 200 else "Service Unavailable"
    start_response(
        f"{status} {reason}",
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(content))),
            ("Cache-Control", "no-store"),
        ],
    )
    return [content]


def readiness_check(
    deadline_seconds: float = HEALTH_DEADLINE_SECONDS,
) -> tuple[bool, dict[str, str]]:
    """Whether PostgreSQL and Redis answer within ``deadline_seconds``, and each one's state
    ("ok", "not used", "no answer within 1 s", "failed (OperationalError)")."""
    deadline = time.monotonic() + deadline_seconds
    probers = _probers()
    pending = {name: prober.start() for name, prober in probers.items()}
    states = {
        name: probers[name].result(check, deadline, deadline_seconds)
        for name, check in pending.items()
    }
    return all(state in ("ok", "not used") for state in states.values()), states


def _postgresql_probe() -> str:
    from django.db import connection

    try:
        with connection.cursor() as cursor:
            # A table every migrated GoKart database has, which nothing locks exclusively.
            cursor.execute("SELECT 1 FROM django_migrations LIMIT 1")
    finally:
        # A pooled connection goes back to the pool; a broken one is dropped.
        connection.close_if_unusable_or_obsolete()
    return "ok"


def _redis_probe() -> str:
    from callbacks.broker import redis_client

    client = redis_client()
    if client is None:
        return "not used"
    client.ping()
    return "ok"


@dataclass
class _Check:
    started_at: float
    done: threading.Event = field(default_factory=threading.Event)
    state: str = ""


class _Prober:
    """One dependency's checks, made one at a time by a thread of its own (which keeps its own
    connections: Django's are per thread)."""

    def __init__(self, name: str, probe: Callable[[], str]) -> None:
        self._name = name
        self._probe = probe
        self._lock = threading.Lock()
        self._current: _Check | None = None
        self._failing = False
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        threading.Thread(target=self._serve, name=f"readyz-{name}", daemon=True).start()

    def start(self) -> _Check:
        """The check in progress (probes made meanwhile share it), or a new one."""
        with self._lock:
            if self._current is None:
                check = self._current = _Check(started_at=time.monotonic())
                self._jobs.put(lambda: self._check(check))
            return self._current

    def result(self, check: _Check, deadline: float, deadline_seconds: float) -> str:
        # A check that has hung since an earlier probe is given no more time than its own.
        until = min(deadline, check.started_at + deadline_seconds)
        if not check.done.wait(max(0.0, until - time.monotonic())):
            state = f"no answer within {deadline_seconds:g} s"
            self._record(state, None)
            return state
        return check.state

    def run(self, job: Callable[[], object], *, timeout: float) -> None:
        """Run ``job`` in the prober's thread (after any check in progress); wait for it."""
        finished = threading.Event()

        def wrapped() -> None:
            try:
                job()
            finally:
                finished.set()

        self._jobs.put(wrapped)
        finished.wait(timeout)

    def _serve(self) -> None:
        while True:
            self._jobs.get()()

    def _check(self, check: _Check) -> None:
        error: BaseException | None = None
        try:
            state = self._probe()
        except Exception as failure:  # noqa: BLE001 -- any failure means not ready
            state, error = f"failed ({type(failure).__name__})", failure
        check.state = state
        with self._lock:
            self._current = None
        check.done.set()
        self._record(state, error)

    def _record(self, state: str, error: BaseException | None) -> None:
        failing = state not in ("ok", "not used")
        with self._lock:
            changed, self._failing = failing != self._failing, failing
        if changed and failing:
            logger.warning("Not ready: %s %s", self._name, state, exc_info=error)
        elif changed:
            logger.warning("Ready again: %s answers", self._name)


_probers_of: dict[int, dict[str, _Prober]] = {}
_probers_lock = threading.Lock()


def _probers() -> dict[str, _Prober]:
    """This process's probers (a forked gunicorn worker starts its own threads)."""
    with _probers_lock:
        pid = os.getpid()
        if pid not in _probers_of:
            _probers_of.clear()
            _probers_of[pid] = {
                "postgresql": _Prober("postgresql", _postgresql_probe),
                "redis": _Prober("redis", _redis_probe),
            }
        return _probers_of[pid]


def readiness_connections_close(*, timeout: float = 5.0) -> None:
    """Close the PostgreSQL connection the readiness check keeps in this process (before its
    database is dropped, as tests do; a worker that exits closes it by exiting)."""
    from django.db import connection

    probers = _probers_of.get(os.getpid())
    if probers:
        # Looked up in the prober's thread: Django's connections are per thread.
        probers["postgresql"].run(lambda: connection.close(), timeout=timeout)
