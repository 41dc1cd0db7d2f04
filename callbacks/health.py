"""Partner health, read from the attempts and the outbox: what the Partners pages show.

Every query is a bounded index range: attempts by ``(partner, outcome, started_at)`` (index-only,
``duration_ms`` included) over at most 7 days, the backlog from the partial index of pending and
held deliveries, Failed counts from the partial index of failed ones, the last success and the
last failure one index probe each. A page of partners costs five queries whatever its size; the
hourly chart one more per partner page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.utils import timezone

from callbacks.models import CallbackAttempt

Outcome = CallbackAttempt.Outcome
CHART_HOURS = 7 * 24


@dataclass
class OutcomeCounts:
    """Attempts in a time range by what they ended in."""

    delivered: int = 0
    retried: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.delivered + self.retried + self.failed

    @property
    def success_rate(self) -> float | None:
        """Delivered attempts over all attempts (None without attempts)."""
        return self.delivered / self.total if self.total else None


@dataclass
class PartnerHealth:
    partner_id: int
    last_24h: OutcomeCounts = field(default_factory=OutcomeCounts)
    last_7d: OutcomeCounts = field(default_factory=OutcomeCounts)
    latency_p50_ms: float | None = None  # attempts of the last 24 hours
    latency_p95_ms: float | None = None
    backlog: int = 0  # deliveries owed and not settled: due, retrying or held
    held: int = 0
    oldest_owed_at: datetime | None = None  # the longest-waiting of them, since its change
    failed: int = 0  # deliveries that ended Failed (resendable)
    last_success_at: datetime | None = None
    last_failure_at: datetime | None = None
    last_failure_reason: str = ""

    @property
    def oldest_owed_age(self) -> timedelta | None:
        return timezone.now() - self.oldest_owed_at if self.oldest_owed_at else None


@dataclass
class HourBucket:
    hour: datetime
    counts: OutcomeCounts = field(default_factory=OutcomeCounts)


_ATTEMPT_COUNTS_SQL = """
    SELECT partner_id, outcome, count(*) FILTER (WHERE started_at >= %(day)s), count(*)
    FROM callbacks_callbackattempt
    WHERE partner_id = ANY(%(partners)s) AND outcome = ANY(%(outcomes)s)
      AND started_at >= %(since)s
    GROUP BY partner_id, outcome
"""

_LATENCY_SQL = """
    SELECT partner_id,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms),
           percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms)
    FROM callbacks_callbackattempt
    WHERE partner_id = ANY(%(partners)s) AND outcome = ANY(%(outcomes)s)
      AND started_at >= %(day)s AND duration_ms IS NOT NULL
    GROUP BY partner_id
"""

_BACKLOG_SQL = """
    SELECT partner_id, count(*), count(*) FILTER (WHERE state = 'held'), min(created_at)
    FROM callbacks_callbackdelivery
    WHERE partner_id = ANY(%(partners)s) AND state IN ('pending', 'held')
    GROUP BY partner_id
"""

_FAILED_SQL = """
    SELECT partner_id, count(*) FROM callbacks_callbackdelivery
    WHERE partner_id = ANY(%(partners)s) AND state = 'failed'
    GROUP BY partner_id
"""

# One index probe each: the newest delivered attempt, the newest of each kind of failure.
_LAST_SQL = """
    SELECT p.id, s.started_at, f.started_at, f.error, f.response_status
    FROM unnest(%(partners)s::bigint[]) AS p(id)
    LEFT JOIN LATERAL (
        -- The newest row at or before (partner, 'delivered', infinity) in the
        -- (partner, outcome, started_at) index, kept when it is that partner's success. Written
        -- so that only that index can answer: "ORDER BY started_at DESC LIMIT 1" had the planner
        -- walk the started_at index backwards, all of it for a partner with no success (930 ms
        -- at 1.5M attempts for the Partners list, 0.2 ms this way).
        SELECT a.started_at FROM (
            SELECT partner_id, outcome, started_at FROM callbacks_callbackattempt
            WHERE (partner_id, outcome, started_at)
                  <= (p.id, 'delivered', 'infinity'::timestamptz)
            ORDER BY partner_id DESC, outcome DESC, started_at DESC LIMIT 1
        ) a
        WHERE a.partner_id = p.id AND a.outcome = 'delivered'
    ) s ON true
    LEFT JOIN LATERAL (
        SELECT * FROM (
            (SELECT started_at, error, response_status FROM callbacks_callbackattempt
             WHERE partner_id = p.id AND outcome = 'retry' ORDER BY started_at DESC LIMIT 1)
            UNION ALL
            (SELECT started_at, error, response_status FROM callbacks_callbackattempt
             WHERE partner_id = p.id AND outcome = 'failed' ORDER BY started_at DESC LIMIT 1)
        ) u ORDER BY started_at DESC LIMIT 1
    ) f ON true
"""

_HOURLY_SQL = """
    SELECT date_trunc('hour', started_at) AS hour, outcome, count(*)
    FROM callbacks_callbackattempt
    WHERE partner_id = %(partner)s AND outcome = ANY(%(outcomes)s) AND started_at >= %(since)s
    GROUP BY 1, 2
"""

_OUTCOMES = [Outcome.DELIVERED, Outcome.RETRY, Outcome.FAILED]
_FIELD = {Outcome.DELIVERED: "delivered", Outcome.RETRY: "retried", Outcome.FAILED: "failed"}


def partners_health(*, partner_ids: list[int], with_week: bool = True) -> dict[int, PartnerHealth]:
    """The health of each partner (see the module docstring), in five queries.

    Without ``with_week`` (the Partners list, which shows the last 24 hours) the attempts of
    the last 7 days are not counted: the counts read a day of attempts instead of a week."""
    health = {partner_id: PartnerHealth(partner_id) for partner_id in partner_ids}
    if not partner_ids:
        return health
    now = timezone.now()
    params: dict[str, Any] = {
        "partners": partner_ids,
        "outcomes": [str(outcome) for outcome in _OUTCOMES],
        "day": now - timedelta(hours=24),
        "since": now - (timedelta(days=7) if with_week else timedelta(hours=24)),
    }
    with connection.cursor() as cursor:
        cursor.execute(_ATTEMPT_COUNTS_SQL, params)
        for partner_id, outcome, in_day, in_week in cursor.fetchall():
            name = _FIELD[outcome]
            setattr(health[partner_id].last_24h, name, in_day)
            if with_week:
                setattr(health[partner_id].last_7d, name, in_week)
        cursor.execute(_LATENCY_SQL, params)
        for partner_id, p50, p95 in cursor.fetchall():
            health[partner_id].latency_p50_ms = p50
            health[partner_id].latency_p95_ms = p95
        cursor.execute(_BACKLOG_SQL, params)
        for partner_id, backlog, held, oldest in cursor.fetchall():
            row = health[partner_id]
            row.backlog, row.held, row.oldest_owed_at = backlog, held, oldest
        cursor.execute(_FAILED_SQL, params)
        for partner_id, failed in cursor.fetchall():
            health[partner_id].failed = failed
        cursor.execute(_LAST_SQL, params)
        for partner_id, success_at, failure_at, error, status in cursor.fetchall():
            row = health[partner_id]
            row.last_success_at, row.last_failure_at = success_at, failure_at
            row.last_failure_reason = error or (f"HTTP {status}" if status else "")
    return health


def partner_hourly_attempts(*, partner_id: int, hours: int = CHART_HOURS) -> list[HourBucket]:
    """The partner's attempts per hour by outcome, oldest first, every hour present."""
    now = timezone.now()
    first = (now - timedelta(hours=hours - 1)).replace(minute=0, second=0, microsecond=0)
    buckets = [HourBucket(first + timedelta(hours=offset)) for offset in range(hours)]
    by_hour = {bucket.hour: bucket for bucket in buckets}
    with connection.cursor() as cursor:
        cursor.execute(
            _HOURLY_SQL,
            {
                "partner": partner_id,
                "outcomes": [str(outcome) for outcome in _OUTCOMES],
                "since": first,
            },
        )
        for hour, outcome, count in cursor.fetchall():
            bucket = by_hour.get(hour)
            if bucket is not None:
                setattr(bucket.counts, _FIELD[outcome], count)
    return buckets
