"""Postbacks by outcome, counted across every web process.

Each process counts in memory and a background thread adds its counts to one Redis hash (the
broker's Redis) once a second, so a postback pays a dictionary increment, not a round trip, and
``/metrics`` reads the totals of every process and every host. Counts of the last second of a
process that dies are lost: acceptable for a rate. Without a Redis broker (development) the
counts are this process's only.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter

from django.conf import settings

from callbacks.broker import redis_client

logger = logging.getLogger(__name__)


_FLUSH_EVERY = 1.0

_lock = threading.Lock()
_pending: Counter[str] = Counter()
_local_totals: Counter[str] = Counter()  # without Redis: what this process counted
_flusher_pid: int | None = None


def postback_counts_key() -> str:
    """The Redis hash of the totals (one per deployment's queue name)."""
    return f"gokart:metrics:postbacks:{settings.CELERY_TASK_DEFAULT_QUEUE}"


def postback_outcome_count(outcome: str) -> None:
    """Count one postback answered with ``outcome`` (``recorded_success``, ``duplicate``,
    ``bad_token``…)."""
    global _flusher_pid
    with _lock:
        _pending[outcome] += 1
        if _flusher_pid != os.getpid():  # first count in this (possibly forked) process
            _flusher_pid = os.getpid()
            threading.Thread(target=_flush_forever, name="postback-counts", daemon=True).start()


def _flush_forever() -> None:
    while True:
        time.sleep(_FLUSH_EVERY)
        postback_counts_flush()


def postback_counts_flush() -> None:
    """Add this process's counts to the shared totals now."""
    with _lock:
        counts = dict(_pending)
        _pending.clear()
    if not counts:
        return
    client = redis_client()
    if client is None:
        with _lock:
            _local_totals.update(counts)
        return
    try:
        pipeline = client.pipeline(transaction=False)
        for outcome, count in counts.items():
            pipeline.hincrby(postback_counts_key(), outcome, count)
        pipeline.execute()
    except Exception:  # noqa: BLE001 -- keep them for the next flush
        logger.warning("Could not store postback counts", exc_info=True)
        with _lock:
            _pending.update(counts)


def postback_counts_read() -> dict[str, int]:
    """Every process's postbacks by outcome, since the counts began."""
    postback_counts_flush()
    client = redis_client()
    if client is None:
        with _lock:
            return dict(_local_totals)
    totals = client.hgetall(postback_counts_key())
    return {
        key.decode() if isinstance(key, bytes) else key: int(value) for key, value in totals.items()
    }
