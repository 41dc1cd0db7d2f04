"""The series of ``/metrics``, read from the database (and the postback counts) at scrape time.

Computed per scrape rather than kept in process memory, so that any web process answers for
every worker process and host (multi-process safe without prometheus-client's multiprocess
mode). Each query is bounded by an index: attempts by ``(partner, outcome, started_at)``
(index-only), the backlog and Failed deliveries by their partial indexes, import jobs by state
(a small table).

| series | type | labels |
| --- | --- | --- |
| ``gokart_callback_attempts_total`` | counter | partner, outcome (delivered, retry, failed) |
| ``gokart_callback_deliveries`` | gauge | partner, state (due, retrying, held, failed) |
| ``gokart_callback_attempt_latency_seconds`` | gauge | partner, quantile (attempts of 5 min) |
| ``gokart_callback_backlog`` | gauge | partner (owed, not settled: due, retrying or held) |
| ``gokart_callback_oldest_owed_age_seconds`` | gauge | partner |
| ``gokart_callback_partner_paused`` | gauge | partner (1 while paused) |
| ``gokart_callback_partners_paused`` | gauge | — |
| ``gokart_import_jobs`` | gauge | state |
| ``gokart_import_job_duration_seconds`` | histogram | — (applied jobs, last 7 days) |
| ``gokart_postbacks_total`` | counter | outcome |
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.backends.utils import CursorWrapper
from django.db.models import Count
from django.utils import timezone
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from callbacks.metrics.postback_counts import postback_counts_read
from callbacks.models import CallbackAttempt, Partner
from conversions.models import ImportJob

_LATENCY_WINDOW = timedelta(minutes=5)
_IMPORT_BUCKETS = (10, 30, 60, 300, 900, 1800, 3600, 4 * 3600)
_OUTCOMES = [str(outcome) for outcome in CallbackAttempt.Outcome]

_ATTEMPTS_SQL = """
    SELECT partner_id, outcome, count(*) FROM callbacks_callbackattempt
    WHERE partner_id = ANY(%(partners)s) AND outcome = ANY(%(outcomes)s)
    GROUP BY partner_id, outcome
"""
_LATENCY_SQL = """
    SELECT partner_id, percentile_cont(ARRAY[0.5, 0.95, 0.99])
                       WITHIN GROUP (ORDER BY duration_ms)
    FROM callbacks_callbackattempt
    WHERE partner_id = ANY(%(partners)s) AND outcome = ANY(%(outcomes)s)
      AND started_at >= %(since)s AND duration_ms IS NOT NULL
    GROUP BY partner_id
"""
_OWED_SQL = """
    SELECT partner_id,
           CASE WHEN state = 'pending' AND attempts > 0 THEN 'retrying'
                WHEN state = 'pending' THEN 'due' ELSE state END,
           count(*), min(created_at)
    FROM callbacks_callbackdelivery
    WHERE partner_id = ANY(%(partners)s) AND state IN ('pending', 'held')
    GROUP BY 1, 2
"""
_FAILED_SQL = """
    SELECT partner_id, count(*) FROM callbacks_callbackdelivery
    WHERE partner_id = ANY(%(partners)s) AND state = 'failed'
    GROUP BY partner_id
"""


class BackOfficeCollector(Collector):
    """Callbacks, imports and postbacks (see the module docstring)."""

    def collect(self) -> Iterator[Metric]:
        partners = {
            partner.pk: partner
            # Partners with a callback URL or a global postback (event postbacks need one).
            for partner in Partner.objects.exclude(callback_url="", postback_url="").order_by("pk")
        }
        yield from self._callbacks(partners)
        yield from self._imports()
        postbacks = CounterMetricFamily(
            "gokart_postbacks", "Postbacks answered, by outcome.", labels=["outcome"]
        )
        for outcome, count in sorted(postback_counts_read().items()):
            postbacks.add_metric([outcome], count)
        yield postbacks

    def _callbacks(self, partners: dict[int, Partner]) -> Iterator[Metric]:
        now = timezone.now()
        params: dict[str, Any] = {
            "partners": list(partners),
            "outcomes": _OUTCOMES,
            "since": now - _LATENCY_WINDOW,
        }
        with connection.cursor() as cursor:
            attempts, latency = _attempt_series(cursor, partners, params)
            deliveries, backlog, oldest = _owed_series(cursor, partners, params, now=now)
        paused, paused_count = _paused_series(partners)
        yield from (attempts, deliveries, latency, backlog, oldest, paused, paused_count)

    def _imports(self) -> Iterator[Metric]:
        jobs = GaugeMetricFamily(
            "gokart_import_jobs", "Status import jobs by state.", labels=["state"]
        )
        counts = dict.fromkeys(ImportJob.State.values, 0)
        for state, count in (
            ImportJob.objects.order_by().values_list("state").annotate(count=Count("pk"))
        ):
            counts[state] = count
        for state, count in counts.items():
            jobs.add_metric([state], count)
        yield jobs
        durations = [
            (finished - started).total_seconds()
            for started, finished in ImportJob.objects.filter(
                state=ImportJob.State.APPLIED,
                apply_finished_at__gte=timezone.now() - timedelta(days=7),
                apply_started_at__isnull=False,
            ).values_list("apply_started_at", "apply_finished_at")
            if started is not None and finished is not None
        ]
        buckets = [
            (str(float(bound)), sum(1 for seconds in durations if seconds <= bound))
            for bound in _IMPORT_BUCKETS
        ] + [("+Inf", len(durations))]
        histogram = HistogramMetricFamily(
            "gokart_import_job_duration_seconds",
            "How long applied import jobs took to apply (apply started to finished), last 7 days.",
        )
        histogram.add_metric([], buckets, sum_value=sum(durations))
        yield histogram


def _attempt_series(
    cursor: CursorWrapper, partners: dict[int, Partner], params: dict[str, Any]
) -> tuple[CounterMetricFamily, GaugeMetricFamily]:
    """Attempts by partner and outcome, and their latency's quantiles over the last minutes."""
    attempts = CounterMetricFamily(
        "gokart_callback_attempts",
        "Callback attempts by partner and outcome.",
        labels=["partner", "outcome"],
    )
    latency = GaugeMetricFamily(
        "gokart_callback_attempt_latency_seconds",
        "Callback attempt latency quantiles over the last 5 minutes.",
        labels=["partner", "quantile"],
    )
    cursor.execute(_ATTEMPTS_SQL, params)
    for partner_id, outcome, count in cursor.fetchall():
        attempts.add_metric([partners[partner_id].name, outcome], count)
    cursor.execute(_LATENCY_SQL, params)
    for partner_id, quantiles in cursor.fetchall():
        for quantile, value in zip(("0.5", "0.95", "0.99"), quantiles, strict=True):
            latency.add_metric([partners[partner_id].name, quantile], value / 1000)
    return attempts, latency


def _owed_series(
    cursor: CursorWrapper, partners: dict[int, Partner], params: dict[str, Any], *, now: datetime
) -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
    """Deliveries not delivered by partner and state, each partner's backlog of callbacks
    owed, and the age of its oldest."""
    deliveries = GaugeMetricFamily(
        "gokart_callback_deliveries",
        "Callback deliveries not delivered, by partner and state.",
        labels=["partner", "state"],
    )
    backlog = GaugeMetricFamily(
        "gokart_callback_backlog", "Callbacks owed and not settled.", labels=["partner"]
    )
    oldest = GaugeMetricFamily(
        "gokart_callback_oldest_owed_age_seconds",
        "Age of the oldest callback owed and not settled.",
        labels=["partner"],
    )
    owed: dict[int, int] = dict.fromkeys(partners, 0)
    oldest_at: dict[int, datetime] = {}
    cursor.execute(_OWED_SQL, params)
    for partner_id, state, count, first in cursor.fetchall():
        deliveries.add_metric([partners[partner_id].name, state], count)
        owed[partner_id] += count
        if partner_id not in oldest_at or first < oldest_at[partner_id]:
            oldest_at[partner_id] = first
    cursor.execute(_FAILED_SQL, params)
    for partner_id, count in cursor.fetchall():
        deliveries.add_metric([partners[partner_id].name, "failed"], count)
    for partner_id, partner in partners.items():
        backlog.add_metric([partner.name], owed[partner_id])
        first = oldest_at.get(partner_id)
        age = (now - first).total_seconds() if first is not None else 0.0
        oldest.add_metric([partner.name], max(age, 0.0))
    return deliveries, backlog, oldest


def _paused_series(partners: dict[int, Partner]) -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
    """Each partner's paused flag, and how many are paused."""
    paused = GaugeMetricFamily(
        "gokart_callback_partner_paused", "1 while the partner is paused.", labels=["partner"]
    )
    for partner in partners.values():
        paused.add_metric([partner.name], 1 if partner.paused_at is not None else 0)
    paused_count = GaugeMetricFamily(
        "gokart_callback_partners_paused", "Partners whose callbacks are paused."
    )
    paused_count.add_metric([], sum(1 for p in partners.values() if p.paused_at is not None))
    return paused, paused_count
