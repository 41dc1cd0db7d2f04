"""The overview's reads (the admin's first page): recent conversions by status with their money,
approval and rejection rates, the Pending backlog by age, partners whose callbacks failed, the
latest imports, and conversions per day.

Every conversion figure is read from the conversion tally (``conversions.tally``), a table of a
few rows per hour, never from the conversions themselves: exact, and as fast at 20 million
conversions as at 20. The tally counts by the hour a conversion was created in, so every
window starts on an hour boundary ("last 24 hours" is since the start of the hour 24 hours
ago), and the conversion list filtered the same way (``created_at__gte``/``created_at__lt`` on
that hour) shows the same number.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.utils import timezone

from callbacks.models import CallbackDelivery, Partner
from conversions.models import ImportJob, Offer, Status

# The windows of the "conversions by status" table and the backlog's ages: hours for the last
# day, calendar days (UTC) beyond, as the tally tells them apart.
WINDOWS = [("Last 24 hours", "hours", 24), ("Last 7 days", "days", 7), ("Last 30 days", "days", 30)]
BACKLOG_AGES = [("1 day", "hours", 24), ("7 days", "days", 7), ("30 days", "days", 30)]
RATES_DAYS = 30
CHART_DAYS = 30
# Partners with failed callbacks are found among this many latest failed deliveries: one
# bounded index range (``delivery_state_created``) instead of every failure ever recorded.
FAILED_DELIVERIES_READ = 10_000
LATEST_IMPORTS = 5


def hour_floor(value: datetime) -> datetime:
    """The start of the UTC hour of ``value``."""
    return value.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def window_start(now: datetime, unit: str, count: int) -> datetime:
    """The start of the last ``count`` hours (from the start of the hour ``count`` hours ago)
    or calendar days (from midnight UTC ``count - 1`` days before today)."""
    hour = hour_floor(now)
    if unit == "hours":
        return hour - timedelta(hours=count)
    return hour.replace(hour=0) - timedelta(days=count - 1)


def age_cutoff(now: datetime, unit: str, count: int) -> datetime:
    """Created before this is older than ``count`` hours (to the hour) or days (to the day)."""
    hour = hour_floor(now)
    if unit == "hours":
        return hour - timedelta(hours=count)
    return hour.replace(hour=0) - timedelta(days=count)


@dataclass
class Amounts:
    """A count of conversions with their payout and revenue, per currency."""

    conversions: int = 0
    payout: dict[str, Decimal] = field(default_factory=dict)
    revenue: dict[str, Decimal] = field(default_factory=dict)

    def add(self, currency: str, conversions: int, payout: Decimal, revenue: Decimal) -> None:
        self.conversions += conversions
        if conversions or payout or revenue:
            self.payout[currency] = self.payout.get(currency, Decimal(0)) + payout
            self.revenue[currency] = self.revenue.get(currency, Decimal(0)) + revenue


@dataclass
class WindowTotals:
    """Conversions created since ``since``, by their current status."""

    label: str
    since: datetime
    by_status: dict[str, Amounts]
    total: Amounts


@dataclass
class Rates:
    """How the conversions of one offer or partner created in the rates window stand now."""

    id: int
    name: str
    by_status: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    def share(self, status: str) -> float:
        return self.by_status.get(status, 0) / self.total if self.total else 0.0


@dataclass
class Backlog:
    """Pending conversions of one offer, created before each cutoff of ``BACKLOG_AGES``."""

    offer_id: int
    offer_name: str
    older_than: list[tuple[str, datetime, int]]


@dataclass
class FailedCallbacks:
    """A partner's failed callback deliveries (among the latest ``FAILED_DELIVERIES_READ``)."""

    partner_id: int
    partner_name: str
    failed: int
    latest_failure_at: datetime
    at_least: bool


@dataclass
class Day:
    day: date
    start: datetime
    by_status: dict[str, int]


@dataclass
class Overview:
    now: datetime
    windows: list[WindowTotals]
    rates_since: datetime
    offer_rates: list[Rates]
    partner_rates: list[Rates]
    backlog: list[Backlog]
    failed_callbacks: list[FailedCallbacks]
    # Callbacks held for paused partners: the partner-pause feature fills this in (see
    # ``callbacks_held``); until then no partner is paused and the list is empty.
    held_callbacks: list[FailedCallbacks]
    latest_imports: list[ImportJob]
    days: list[Day]
    # Test conversions ever recorded (the offer page's tool), by status: counted in every
    # figure above like any other, and named so that nobody mistakes them for business.
    test_conversions: dict[str, int] = field(default_factory=dict)


def overview_read(*, now: datetime | None = None) -> Overview:
    """Everything the overview page shows, as of ``now`` (about ten small queries)."""
    now = now or timezone.now()
    hour = hour_floor(now)
    rates_since = window_start(now, "days", RATES_DAYS)
    return Overview(
        now=now,
        windows=_windows(now),
        rates_since=rates_since,
        offer_rates=_rates("offer_id", Offer, since=rates_since),
        partner_rates=_rates("partner_id", Partner, since=rates_since),
        backlog=_backlog(now),
        failed_callbacks=_failed_callbacks(),
        held_callbacks=callbacks_held(),
        latest_imports=list(ImportJob.objects.select_related("user")[:LATEST_IMPORTS]),
        days=_days(hour),
        test_conversions=_test_conversions(),
    )


def _test_conversions() -> dict[str, int]:
    """Test conversions by status, from the partial index of the few test clicks."""
    rows = _fetch(
        """SELECT c.status, count(*) FROM conversions_click k
           JOIN conversions_conversion c ON c.click_id = k.id
           WHERE k.is_test GROUP BY c.status""",
        {},
    )
    return {status: count for status, count in rows}


def callbacks_held() -> list[FailedCallbacks]:
    """The hook for the partner-pause feature: partners whose callbacks are held, with how
    many. No partner can be paused yet, so none are held."""
    return []


def _fetch(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _windows(now: datetime) -> list[WindowTotals]:
    starts = {label: window_start(now, unit, count) for label, unit, count in WINDOWS}
    sums_sql = ", ".join(
        f"(sum(t.conversions) FILTER (WHERE t.hour >= %(s{n})s))::bigint,"
        f" sum(t.payout) FILTER (WHERE t.hour >= %(s{n})s),"
        f" sum(t.revenue) FILTER (WHERE t.hour >= %(s{n})s)"
        for n in range(len(WINDOWS))
    )
    rows = _fetch(
        f"""SELECT t.status, o.currency, {sums_sql}
            FROM conversions_conversiontally t JOIN conversions_offer o ON o.id = t.offer_id
            WHERE t.hour >= %(s{len(WINDOWS) - 1})s
            GROUP BY 1, 2""",  # noqa: S608 -- only our own SQL is interpolated
        {f"s{n}": starts[label] for n, (label, _, _) in enumerate(WINDOWS)},
    )
    windows = []
    for n, (label, _, _) in enumerate(WINDOWS):
        by_status = {status: Amounts() for status in Status.values}
        total = Amounts()
        for status, currency, *window_sums in rows:
            count, payout, revenue = window_sums[3 * n : 3 * n + 3]
            if count is None:
                continue
            by_status[status].add(currency, count, payout, revenue)
            total.add(currency, count, payout, revenue)
        windows.append(WindowTotals(label, starts[label], by_status, total))
    return windows


def _rates(column: str, model: type[Offer] | type[Partner], *, since: datetime) -> list[Rates]:
    if column not in ("offer_id", "partner_id"):
        raise ValueError(column)
    rows = _fetch(
        f"""SELECT {column}, status, sum(conversions)::bigint FROM conversions_conversiontally
            WHERE hour >= %(since)s GROUP BY 1, 2 HAVING sum(conversions) <> 0""",  # noqa: S608
        {"since": since},
    )
    names = dict(model.objects.filter(pk__in={row[0] for row in rows}).values_list("pk", "name"))
    rates: dict[int, Rates] = {}
    for key, status, count in rows:
        rates.setdefault(key, Rates(key, names.get(key, f"#{key}"), {})).by_status[status] = count
    return sorted(rates.values(), key=lambda r: (-r.total, r.name))


def _backlog(now: datetime) -> list[Backlog]:
    cutoffs = [(label, age_cutoff(now, unit, count)) for label, unit, count in BACKLOG_AGES]
    sums = ", ".join(
        f"(sum(conversions) FILTER (WHERE hour < %(c{n})s))::bigint" for n in range(len(cutoffs))
    )
    rows = _fetch(
        f"""SELECT offer_id, {sums} FROM conversions_conversiontally
            WHERE status = 'pending' AND hour < %(c0)s
            GROUP BY 1 HAVING sum(conversions) <> 0""",  # noqa: S608 -- our own SQL only
        {f"c{n}": cutoff for n, (_, cutoff) in enumerate(cutoffs)},
    )
    names = dict(Offer.objects.filter(pk__in={row[0] for row in rows}).values_list("pk", "name"))
    backlog = [
        Backlog(
            offer_id,
            names.get(offer_id, f"#{offer_id}"),
            [
                (label, cutoff, count or 0)
                for (label, cutoff), count in zip(cutoffs, counts, strict=True)
            ],
        )
        for offer_id, *counts in rows
    ]
    return sorted(backlog, key=lambda b: (-b.older_than[0][2], b.offer_name))


def _failed_callbacks() -> list[FailedCallbacks]:
    rows = _fetch(
        """SELECT partner_id, count(*), max(created_at)
           FROM (SELECT partner_id, created_at FROM callbacks_callbackdelivery
                 WHERE state = %(failed)s ORDER BY created_at DESC LIMIT %(limit)s) latest
           GROUP BY 1""",
        {"failed": CallbackDelivery.State.FAILED, "limit": FAILED_DELIVERIES_READ},
    )
    read_all = sum(row[1] for row in rows) >= FAILED_DELIVERIES_READ
    names = dict(Partner.objects.filter(pk__in={r[0] for r in rows}).values_list("pk", "name"))
    return sorted(
        (
            FailedCallbacks(
                partner_id, names.get(partner_id, f"#{partner_id}"), n, latest, at_least=read_all
            )
            for partner_id, n, latest in rows
        ),
        key=lambda f: (-f.failed, f.partner_name),
    )


def _days(hour: datetime) -> list[Day]:
    today = hour.replace(hour=0)
    first = today - timedelta(days=CHART_DAYS - 1)
    rows = _fetch(
        """SELECT date_trunc('day', hour, 'UTC'), status, sum(conversions)::bigint
           FROM conversions_conversiontally WHERE hour >= %(first)s GROUP BY 1, 2""",
        {"first": first},
    )
    counts: dict[date, dict[str, int]] = {}
    for day, status, count in rows:
        counts.setdefault(day.astimezone(UTC).date(), {})[status] = count
    starts: Iterable[datetime] = (first + timedelta(days=n) for n in range(CHART_DAYS))
    return [Day(start.date(), start, counts.get(start.date(), {})) for start in starts]
