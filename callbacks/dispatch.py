"""Queueing the delivery of due callbacks once the current transaction commits.

Whatever owes callbacks (a status change, a resend, a replay, a resumed partner) calls
:func:`callback_deliveries_dispatch_on_commit`. The dispatch task lives in ``callbacks.tasks``,
beside the delivery loop it runs, and the loop itself resumes and pauses partners, which owe
callbacks: so that nothing that owes callbacks imports the loop (an import cycle), the task
module registers its queueing function here when it is imported, which ``CallbacksConfig.ready``
does in every process. A message that is never queued (the broker down, a process without the
tasks) only delays a callback: the periodic sweep delivers it.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

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
    connection = transaction.get_connection()
    if connection.in_atomic_block and any(
        callback is _queue for _, callback, _ in connection.run_on_commit
    ):
        return
    transaction.on_commit(_queue)
