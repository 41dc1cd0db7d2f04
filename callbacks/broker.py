"""The broker's Redis, for the small coordination keys of callback dispatch (one client per
process; None when the broker is not Redis)."""

from __future__ import annotations

import os
from functools import cache

import redis
from django.conf import settings


@cache
def _client_for(url: str, pid: int) -> redis.Redis | None:
    if not url.startswith(("redis://", "rediss://")):
        return None
    return redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)


def redis_client() -> redis.Redis | None:
    """This process's client of ``CELERY_BROKER_URL`` (a forked worker gets its own)."""
    return _client_for(settings.CELERY_BROKER_URL, os.getpid())
