"""Per-key rate limits of the Management API.

Each API key may send ``API_RATE_LIMIT_PER_MINUTE`` requests a minute (default 1,200), all at
once if it likes; its budget then refills at that rate. Counted in Redis through the tracking
limits' buckets (``conversions.rate_limits``: GCRA, one round trip per request, a sliding
window rather than fixed minutes, so no burst of twice the quota at a minute's edge).

- Counted once per request, when its key is accepted (``api.calls``): a request refused for
  its key (401) is not counted; an ``Idempotency-Key`` replay is.
- Over the limit: 429 ``rate_limited`` with ``Retry-After`` (whole seconds), nothing done.
- Every answer to a counted request carries the IETF draft's fields
  (draft-ietf-httpapi-ratelimit-headers): ``RateLimit-Policy: "per-key";q=1200;w=60`` (the
  quota and its window in seconds) and ``RateLimit: "per-key";r=<requests left now>;t=<seconds
  until the whole quota is back>``.
- 0 turns the limit off; with Redis unavailable (no Redis broker, an outage) requests go
  through unlimited and carry no RateLimit fields.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.conf import settings
from django.http.response import HttpResponseBase

from api.models import ApiKey
from api.problems import ApiProblem
from conversions.rate_limits import RateBucket, rate_buckets_take

POLICY = "per-key"
WINDOW_SECONDS = 60


@dataclass(frozen=True)
class KeyRate:
    """A key's budget after one request: the quota, what is left, when it is whole again, and
    (refused requests only) when to come back."""

    quota: int
    remaining: int
    reset_seconds: int
    retry_after_seconds: int | None

    @property
    def refused(self) -> bool:
        return self.retry_after_seconds is not None


def api_key_rate_take(*, api_key: ApiKey) -> KeyRate | None:
    """Count one request of ``api_key``; None when the limit is off or Redis unavailable."""
    quota = settings.API_RATE_LIMIT_PER_MINUTE
    if quota <= 0:
        return None
    prefix = f"gokart:ratelimit:{settings.CELERY_TASK_DEFAULT_QUEUE}:api"
    bucket = RateBucket(
        key=f"{prefix}:key:{api_key.prefix}", per_second=quota / WINDOW_SECONDS, burst=quota
    )
    verdict = rate_buckets_take([bucket])
    if verdict is None:
        return None
    return KeyRate(
        quota=quota,
        remaining=verdict.remaining,
        reset_seconds=math.ceil(verdict.reset_ms / 1000),
        retry_after_seconds=(
            None if verdict.refused is None else max(1, math.ceil(verdict.wait_ms / 1000))
        ),
    )


def rate_limited_problem(rate: KeyRate) -> ApiProblem:
    return ApiProblem(
        429,
        "rate_limited",
        "Too many requests",
        f"This API key may send {rate.quota} requests per {WINDOW_SECONDS} s. Retry after "
        f"{rate.retry_after_seconds} s; nothing was done.",
    )


def rate_limit_fields_set(response: HttpResponseBase, rate: KeyRate) -> None:
    """The RateLimit fields (and ``Retry-After`` on a refusal) on ``response``."""
    response["RateLimit-Policy"] = f'"{POLICY}";q={rate.quota};w={WINDOW_SECONDS}'
    response["RateLimit"] = f'"{POLICY}";r={rate.remaining};t={rate.reset_seconds}'
    if rate.retry_after_seconds is not None:
        response["Retry-After"] = str(rate.retry_after_seconds)
