"""Queueing the delivery of due callbacks once the current transaction commits.

Whatever owes callbacks (a status change, a resend, a replay, a resumed partner) calls
:func:`callback_deliveries_dispatch_on_commit`. The dispatch task lives in ``callbacks.tasks``,
beside the delivery loop it runs, and the loop itself resumes and pauses partners, which owe
callbacks: so that nothing that owes callbacks imports the loop (an import cycle), the task
module registers its queueing function here when it is imported, which ``CallbacksConfig.ready``
does in every process. A message that is never queued (the broker down, a process without the
tasks) only delays a callback: the periodic sweep delivers it.

Deferred (``CALLBACK_DISPATCH_DEFER_MS`` above 0: the tracking tier): a commit that owes
callbacks only wakes a thread of its process, which queues at once if it was idle, then waits
that long before it queues again for the commits that woke it meanwhile. A postback then costs a
thread's wake-up instead of a Redis round trip (the mark ``callbacks.tasks`` sets), and at load
each process queues at most once per interval. Every commit that wakes the thread is followed by
a queueing that starts after it, so no callback is left for the sweep; what a process that dies
in that instant owed, the sweep delivers.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

_queue: Callable[[], None] | None = None


def callback_dispatch_register(queue: Callable[[], None]) -> None:
    """Set the function that queues one dispatch task (``callbacks.tasks`` registers its own)."""
    global _queue
    _queue = queue


def callback_deliveries_dispatch_on_commit() -> None:
    """Queue delivery of due callbacks once the current transaction commits (at once outside
    one). A transaction that owes callbacks many times over (a demo, a script changing
    statuses in a loop) queues one dispatch: the dispatch delivers everything due."""
    if _queue is None:
        return
    queue = _deferred.wake if settings.CALLBACK_DISPATCH_DEFER_MS > 0 else _queue
    connection = transaction.get_connection()
    if connection.in_atomic_block and any(
        callback == queue for _, callback, _ in connection.run_on_commit
    ):
        return
    transaction.on_commit(queue)


class _DeferredQueue:
    """This process's dispatch thread (see the module docstring), started on first use in each
    process (gunicorn forks its workers after loading the application)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._wanted = threading.Event()

    def wake(self) -> None:
        if self._pid != os.getpid():
            self._start()
        self._wanted.set()

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._wanted = threading.Event()
            self._pid = os.getpid()
            thread = threading.Thread(
                target=self._run, args=(self._wanted,), name="callback-dispatch", daemon=True
            )
            thread.start()

    @staticmethod
    def _run(wanted: threading.Event) -> None:
        while True:
            wanted.wait()
            wanted.clear()  # a commit after this point wakes the next round
            try:
                if _queue is not None:
                    _queue()
            except Exception:  # noqa: BLE001 -- the sweep delivers what this did not queue
                logger.warning("Could not queue a callback dispatch", exc_info=True)
            time.sleep(settings.CALLBACK_DISPATCH_DEFER_MS / 1000)


_deferred = _DeferredQueue()
