"""Rate limits of the public tracking endpoints (``/click/`` and ``/postback/``), kept in Redis.

Two limits, each a rate per second with a burst, checked together in one Redis round trip
(one Lua script, GCRA: each key holds the time its bucket is next empty, so a check is one
``GET`` and one ``SET`` per key, atomic with the others):

- per client address (``access.addresses.client_address``: behind the trusted proxy, the
  address it saw). IPv6 addresses count per /64, what one customer usually holds. Loopback is
  exempt: a local proxy whose ``X-Forwarded-For`` is not trusted, a health check or the
  benchmark is not one client, and limiting it would limit everyone.
- per offer: ``/click/`` by the offer id of its path; ``/postback/`` by the token it carries
  (the offer's postback secret), so that the budget of an offer cannot be spent by someone who
  does not know its token, and no database read happens before the check. During a token
  rotation's grace the old and the new token each have the offer's budget.

A refused request is answered 429 with ``Retry-After`` before anything is read from or written
to the database. Defaults (``gokart/settings.py``, README "Settings"): 50 per second with a
burst of 200 per address, 2,000 per second with a burst of 4,000 per offer; 0 switches one
limit off, ``TRACKING_RATE_LIMITS=0`` both.

Redis is the broker's (``CELERY_BROKER_URL``); without a Redis broker (development) nothing is
limited. A Redis that fails or does not answer within its 0.5 s timeout never takes tracking
down: the request goes through unlimited, the failure is logged once, and Redis is not asked
again for ``_PAUSE_AFTER_FAILURE`` seconds, so an outage costs no request more than one timeout.

**Leases** (``TRACKING_RATE_LEASE_MS``, 50). A busy process does not ask Redis for every
request: it takes as many tokens at once as it used in the last lease period for the same
buckets (at most a tenth of the smallest burst), and spends them locally until they run out or
the period ends. Tokens are taken before they are spent, so a lease never lets in more than the
limit; what a lease leaves unspent when traffic stops is lost (at most a tenth of a burst per
process and key), and a lease that the buckets cannot grant falls back to one token, so that
the refusals are the ones without leases. A client at a few requests a second gets leases of
one: every request is one round trip, as before. At 400 postbacks a second per process, 20.

The buckets themselves (``RateBucket``, ``rate_buckets_take``) are this project's one limiter:
the Management API's per-key limit (``api.rate_limits``) counts through them too, and shares
the pause after a Redis failure.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

import redis
from django.conf import settings
from redis.commands.core import Script

from callbacks.broker import redis_client

logger = logging.getLogger(__name__)

# After Redis failed, requests go unlimited without asking it for this long.
_PAUSE_AFTER_FAILURE = 5.0

_state = threading.Lock()
_paused_until = 0.0
_failing = False


# KEYS: the buckets; ARGV: how many requests to count at once (a lease), then per key its emission
# interval and tolerance in microseconds. Each key holds its bucket's "theoretical arrival time"
# (µs, Redis clock). Answers {refused, wait, remaining, reset}: refused is which key (1-based) and
# wait the milliseconds until it would accept, nothing advanced; accepted: 0, and every key is
# advanced. remaining: requests the buckets still take at once (the fewest of them); reset:
# milliseconds until the bucket that refused, or the fullest one, is empty again.
_GCRA = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local count = tonumber(ARGV[1])
local due = {}
local remaining, reset = -1, 0
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i])
  local tolerance = tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  if tat + (count - 1) * interval - now > tolerance then
    return {i, math.ceil((tat - now - tolerance) / 1000), 0, math.ceil((tat - now) / 1000)}
  end
  due[i] = tat + count * interval
  local left = math.max(0, math.floor((tolerance - (due[i] - now)) / interval) + 1)
  if remaining < 0 or left < remaining then
    remaining, reset = left, math.ceil((due[i] - now) / 1000)
  end
end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, string.format('%.0f', due[i]), 'PX',
    math.ceil((due[i] - now) / 1000) + 1)
end
return {0, 0, remaining, reset}
"""


@dataclass(frozen=True)
class RateBucket:
    """One limit: ``per_second`` on average, ``burst`` at once, counted under ``key``."""

    key: str
    per_second: float
    burst: int

    @property
    def interval_us(self) -> float:
        return 1_000_000 / self.per_second

    @property
    def tolerance_us(self) -> float:
        # GCRA lets ``burst`` requests in at once: the last of them waits (burst - 1) intervals.
        return self.interval_us * (max(self.burst, 1) - 1)


@dataclass(frozen=True)
class RateVerdict:
    """What the buckets said: ``refused`` is the index of the bucket that refused (None:
    accepted and counted), ``wait_ms`` how long until it would accept, ``remaining`` how many
    more requests the buckets take at once, ``reset_ms`` how long until that bucket is empty."""

    refused: int | None
    wait_ms: int
    remaining: int
    reset_ms: int


def rate_buckets_take(buckets: Sequence[RateBucket], *, count: int = 1) -> RateVerdict | None:
    """Count ``count`` requests against every bucket at once (one Redis round trip), or none
    when one refuses. None when Redis is unavailable (no Redis broker, a failure, or the pause
    after one): the caller lets the request through. Never raises."""
    client = redis_client()
    if client is None or not buckets or time.monotonic() < _paused_until:
        return None
    arguments: list[float] = [count]
    for bucket in buckets:
        arguments += [bucket.interval_us, bucket.tolerance_us]
    try:
        answer = _script(client)(keys=[bucket.key for bucket in buckets], args=arguments)
    except (redis.RedisError, OSError):
        _failed()
        return None
    _answered()
    refused, wait_ms, remaining, reset_ms = (int(value) for value in answer)
    return RateVerdict(
        refused=refused - 1 if refused else None,
        wait_ms=wait_ms,
        remaining=remaining,
        reset_ms=reset_ms,
    )


class Endpoint(StrEnum):
    CLICK = "click"
    POSTBACK = "postback"


class Scope(StrEnum):
    ADDRESS = "address"
    OFFER = "offer"


@dataclass(frozen=True)
class RateLimitRefusal:
    """The request is over a limit: which one, its rate, and when to come back."""

    scope: Scope
    per_second: float
    retry_after_seconds: int

    @property
    def message(self) -> str:
        who = "this address" if self.scope is Scope.ADDRESS else "this offer"
        return (
            f"Too many requests from {who}: at most {self.per_second:g} per second. "
            f"Retry after {self.retry_after_seconds} s; nothing was recorded."
        )


@dataclass(frozen=True)
class _Bucket(RateBucket):
    scope: Scope = Scope.ADDRESS


def tracking_rate_limit_check(
    *, endpoint: Endpoint, address: str | None, offer_key: str | None
) -> RateLimitRefusal | None:
    """Count one request to ``endpoint`` against its address's and its offer's limits.

    ``offer_key`` is the offer id (clicks) or the postback's token (postbacks); None skips the
    offer's limit, as None or a loopback ``address`` skips the address's. Returns the refusal
    when either limit is reached (the request counts against neither then), else None; never
    raises, and returns None when Redis is unavailable.
    """
    if not settings.TRACKING_RATE_LIMITS:
        return None
    buckets = _buckets(endpoint=endpoint, address=address, offer_key=offer_key)
    if not buckets:
        return None
    verdict = _leased_take(buckets)
    if verdict is None or verdict.refused is None:
        return None
    bucket = buckets[verdict.refused]
    return RateLimitRefusal(
        scope=bucket.scope,
        per_second=bucket.per_second,
        retry_after_seconds=max(1, math.ceil(verdict.wait_ms / 1000)),
    )


@dataclass
class _Lease:
    """Tokens one process took at once for one set of buckets, and how many requests it saw
    for them in the current period (the size of its next lease)."""

    tokens: int = 0
    expires: float = 0.0
    period_start: float = 0.0
    seen: int = 0
    size: int = 1

    def request_seen(self, now: float, period: float) -> None:
        if now - self.period_start >= period:
            self.size, self.period_start, self.seen = max(1, self.seen), now, 0
        self.seen += 1


_leases: dict[tuple[str, ...], _Lease] = {}
_clock = time.monotonic  # the leases' periods (a test steps it)
_leases_lock = threading.Lock()
# Above this many, leases whose period ended are dropped (addresses come and go).
_LEASES_KEPT = 10_000


def _leased_take(buckets: Sequence[_Bucket]) -> RateVerdict | None:
    """One request counted from this process's lease for ``buckets``, or from Redis (with a
    new lease) when it has none left; the module docstring says how leases are sized."""
    period = settings.TRACKING_RATE_LEASE_MS / 1000
    if period <= 0:
        return rate_buckets_take(buckets)
    keys = tuple(bucket.key for bucket in buckets)
    now = _clock()
    with _leases_lock:
        lease = _leases.get(keys)
        if lease is None:
            if len(_leases) >= _LEASES_KEPT:
                _leases_prune(now)
            lease = _leases[keys] = _Lease(period_start=now)
        lease.request_seen(now, period)
        if lease.tokens > 0 and now < lease.expires:
            lease.tokens -= 1
            return _LEASED
        size = min(lease.size, max(1, min(bucket.burst for bucket in buckets) // 10))
    verdict = rate_buckets_take(buckets, count=size) if size > 1 else None
    if verdict is not None and verdict.refused is not None:
        # Near the limit: single tokens until the next period, one round trip per refusal.
        with _leases_lock:
            lease.size = 1
    if verdict is None or verdict.refused is not None:
        size, verdict = 1, rate_buckets_take(buckets)
    if verdict is not None and verdict.refused is None and size > 1:
        with _leases_lock:
            lease.tokens, lease.expires = size - 1, now + period
    return verdict


# A request counted from a lease: accepted, the buckets' state not read.
_LEASED = RateVerdict(refused=None, wait_ms=0, remaining=0, reset_ms=0)


def _leases_prune(now: float) -> None:
    for keys, lease in list(_leases.items()):
        if lease.expires <= now:
            del _leases[keys]


def _buckets(*, endpoint: Endpoint, address: str | None, offer_key: str | None) -> list[_Bucket]:
    prefix = f"gokart:ratelimit:{settings.CELERY_TASK_DEFAULT_QUEUE}:{endpoint}"
    buckets = []
    client = _address_key(address)
    if client and settings.TRACKING_RATE_PER_ADDRESS > 0:
        buckets.append(
            _Bucket(
                f"{prefix}:address:{client}",
                settings.TRACKING_RATE_PER_ADDRESS,
                settings.TRACKING_BURST_PER_ADDRESS,
                Scope.ADDRESS,
            )
        )
    if offer_key and settings.TRACKING_RATE_PER_OFFER > 0:
        if endpoint is Endpoint.POSTBACK:
            # A digest: the token itself is a secret and stays out of Redis.
            offer_key = hashlib.sha256(offer_key.encode()).hexdigest()[:32]
        buckets.append(
            _Bucket(
                f"{prefix}:offer:{offer_key}",
                settings.TRACKING_RATE_PER_OFFER,
                settings.TRACKING_BURST_PER_OFFER,
                Scope.OFFER,
            )
        )
    return buckets


def _address_key(address: str | None) -> str | None:
    """The address as counted (IPv6 by its /64), None for loopback or none."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


@cache
def _script(client: redis.Redis) -> Script:
    # EVALSHA of the cached script; redis-py loads it once when Redis does not know it yet.
    return client.register_script(_GCRA)


def _failed() -> None:
    global _paused_until, _failing
    with _state:
        _paused_until = time.monotonic() + _PAUSE_AFTER_FAILURE
        first = not _failing
        _failing = True
    if first:
        logger.warning(
            "Tracking and API rate limits are off: Redis failed; requests go through unlimited "
            "until it answers again (asked again every %g s)",
            _PAUSE_AFTER_FAILURE,
            exc_info=True,
        )


def _answered() -> None:
    global _failing
    if not _failing:
        return
    with _state:
        recovered, _failing = _failing, False
    if recovered:
        logger.warning("Tracking and API rate limits are on again: Redis answers")
