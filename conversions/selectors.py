"""Reads of conversions that the admin pages make: search, totals, status counts and history.

Each reads an index or the conversion tally and is bounded, so that the pages stay fast on tens
of millions of rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Count, OuterRef, QuerySet, Subquery, Sum

from conversions.models import Conversion, ConversionTally, Status, StatusChange
from conversions.tally import tally_bound_is_exact

# A search term matches at most this many conversions per kind (a click has a few events).
SEARCH_MATCHES_MAX = 1000


def conversion_ids_matching(*, term: str) -> set[int]:
    """The conversions a search term names exactly: its Conversion Event ID (when numeric), the
    conversions of the click with that gk_click_id, those with that advertiser transaction id,
    or those of clicks with that partner's user/sub id. Each is an exact match on its own
    index, never a LIKE scan."""
    term = term.strip()
    if not term:
        return set()
    ids = conversion_ids_of_click(gk_click_id=term)
    if term.isascii() and term.isdigit() and len(term) < 19:
        ids.add(int(term))
    ids.update(
        Conversion.objects.order_by()
        .filter(transaction_id=term)
        .values_list("pk", flat=True)[:SEARCH_MATCHES_MAX]
    )
    ids.update(
        Conversion.objects.order_by()
        .filter(click__sub_id=term)
        .values_list("pk", flat=True)[:SEARCH_MATCHES_MAX]
    )
    return ids


def conversion_ids_of_click(*, gk_click_id: str) -> set[int]:
    """The conversions (events) of the click with this gk_click_id."""
    return set(
        Conversion.objects.order_by()
        .filter(click__gk_click_id=gk_click_id.strip())
        .values_list("pk", flat=True)[:SEARCH_MATCHES_MAX]
    )


def conversion_status_counts(*, conversion_ids: Sequence[int]) -> dict[str, int]:
    """How many of these conversions are in each status now, in the order of ``Status``."""
    counts = dict(
        Conversion.objects.filter(pk__in=conversion_ids)
        .order_by()
        .values_list("status")
        .annotate(count=Count("pk"))
    )
    return {value: counts[value] for value in Status.values if value in counts}


def conversion_status_history(*, conversion_id: int, limit: int) -> QuerySet[StatusChange]:
    """The conversion's latest ``limit`` status changes, newest first, with who made them and
    the amounts before each (``old_payout``, ``old_revenue``: the previous row's; None before
    audit rows recorded amounts)."""
    before = StatusChange.objects.filter(
        conversion_id=OuterRef("conversion_id"), sequence_number=OuterRef("sequence_number") - 1
    )
    return (
        StatusChange.objects.filter(conversion_id=conversion_id)
        .select_related("user", "import_job__user")
        .annotate(
            old_payout=Subquery(before.values("payout")[:1]),
            old_revenue=Subquery(before.values("revenue")[:1]),
        )
        .order_by("-sequence_number")[:limit]
    )


def status_changes_latest(*, limit: int) -> QuerySet[StatusChange]:
    """The latest status changes of any conversion, newest first (the primary key's index)."""
    return StatusChange.objects.select_related("user").order_by("-id")[:limit]


@dataclass
class ConversionTotals:
    """How many conversions, and their payout and revenue per currency. Not ``exact``: at
    least these (counting stopped after ``conversions``)."""

    conversions: int = 0
    payout: dict[str, Decimal] = field(default_factory=dict)
    revenue: dict[str, Decimal] = field(default_factory=dict)
    exact: bool = True


def conversion_totals_tallied(
    *,
    status: str | None = None,
    offer_id: int | None = None,
    partner_id: int | None = None,
    created_from: datetime | None = None,
    created_before: datetime | None = None,
) -> ConversionTotals:
    """Exact totals of the conversions with these keys, from the conversion tally. The created
    bounds must be ones the tally tells apart (``conversions.tally.tally_bound_is_exact``)."""
    for bound in (created_from, created_before):
        if bound is not None and not tally_bound_is_exact(bound):
            raise ValueError(f"The tally cannot tell conversions apart at {bound}.")
    filters: dict[str, Any] = {}
    if status is not None:
        filters["status"] = status
    if offer_id is not None:
        filters["offer_id"] = offer_id
    if partner_id is not None:
        filters["partner_id"] = partner_id
    if created_from is not None:
        filters["hour__gte"] = created_from
    if created_before is not None:
        filters["hour__lt"] = created_before
    rows = (
        ConversionTally.objects.filter(**filters)
        .order_by()
        .values_list("offer__currency")
        .annotate(n=Sum("conversions"), payout=Sum("payout"), revenue=Sum("revenue"))
    )
    return _totals(rows, exact=True)


def conversion_totals_counted(*, queryset: QuerySet[Conversion], cap: int) -> ConversionTotals:
    """Totals of a filtered list, counting at most ``cap`` + 1 of its conversions; past ``cap``
    they are not exact (the page says "more than" and "at least"). Which ``cap`` + 1 are read
    is not the list's order but whichever index range is cheapest: in the list's order, the
    source filter alone walked the primary key backwards past 19 of every 20 rows (its index
    is ``(status_source, status, -id)``), 34 ms against 12 ms at 2M."""
    # The limited rows are summed as they are read: with ``pk IN (… LIMIT)`` PostgreSQL looked
    # each one up again by primary key (0.30 s against 0.06 s for 10,001 rows at 20M).
    first = queryset.order_by().values_list("offer_id", "payout", "revenue")[: cap + 1]
    try:
        sql, params = first.query.sql_with_params()
    except EmptyResultSet:  # e.g. a search that named no conversion
        return ConversionTotals()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT o.currency, count(*), sum(s.payout), sum(s.revenue)
                FROM ({sql}) s (offer_id, payout, revenue)
                JOIN conversions_offer o ON o.id = s.offer_id
                GROUP BY 1""",  # noqa: S608 -- the ORM's own SQL, its values as parameters
            params,
        )
        totals = _totals(cursor.fetchall(), exact=True)
    totals.exact = totals.conversions <= cap
    return totals


def _totals(rows: Any, *, exact: bool) -> ConversionTotals:
    totals = ConversionTotals(exact=exact)
    for currency, count, payout, revenue in rows:
        if not count and not payout:
            continue
        totals.conversions += int(count)
        totals.payout[currency] = payout or Decimal(0)
        totals.revenue[currency] = revenue or Decimal(0)
    return totals
