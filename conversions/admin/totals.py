"""The totals line of Conversion Management: how many conversions the current filter and search
match, with their payout and revenue per currency.

Exact, from the conversion tally, when the list is filtered by nothing but status, offer,
partner and a created range (``created_at__gte``/``__lt``) whose ends are dates, or hours of the
last two days, and searched for nothing. Otherwise counted up to the paginator's bound
(``LargeTablePaginator.COUNT_CAP``), and said as "more than …" past it.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib.admin.views.main import (  # type: ignore[attr-defined]  # (not in the stubs)
    ALL_VAR,
    ERROR_FLAG,
    IS_FACETS_VAR,
    IS_POPUP_VAR,
    ORDER_VAR,
    PAGE_VAR,
    SEARCH_VAR,
    TO_FIELD_VAR,
    ChangeList,
)
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.functional import cached_property

from conversions.admin.filters import range_value_parse
from conversions.amounts import money_by_currency
from conversions.models import Conversion, Status
from conversions.selectors import (
    ConversionTotals,
    conversion_totals_counted,
    conversion_totals_tallied,
)
from conversions.tally import tally_bound_is_exact
from gokart.admin_base import LargeTablePaginator

# The list's query parameters the tally can answer, and the tally's argument for each.
_TALLIED = {
    "status__exact": "status",
    "offer__id__exact": "offer_id",
    "partner__id__exact": "partner_id",
    "created_at__gte": "created_from",
    "created_at__lt": "created_before",
}


# Query parameters that do not filter the list.
_NOT_FILTERS = {ALL_VAR, ERROR_FLAG, IS_FACETS_VAR, IS_POPUP_VAR, ORDER_VAR, PAGE_VAR, TO_FIELD_VAR}


class ConversionListPaginator(LargeTablePaginator):
    """The list's paginator. When the tally answers a filter, its count is the tally's, exact,
    whatever the size. Otherwise one query counts the conversions up to the bound and sums
    their money (``totals``): the count the paginator would have made anyway, reading the
    rows' money as it goes."""

    tally_arguments: dict[str, Any] | None = None

    @property
    def _conversions(self) -> QuerySet[Conversion]:
        """The list's queryset (the paginator's ``object_list``), as the type it is."""
        return cast("QuerySet[Conversion]", self.object_list)

    @cached_property
    def totals(self) -> ConversionTotals:
        if self.tally_arguments is not None:
            return conversion_totals_tallied(**self.tally_arguments)
        return conversion_totals_counted(queryset=self._conversions, cap=self.COUNT_CAP)

    @cached_property
    def count(self) -> int:
        if self.tally_arguments is not None:
            # Exact from the tally, which the totals line reads anyway: no count over the
            # table (a bounded count of a rare status, offer and partner took 474 ms at 20M).
            return self.totals.conversions
        if not self._conversions.query.where:
            return super().count
        counted = self.totals.conversions
        if counted > self.COUNT_CAP:
            self.count_is_capped = True
            return self.COUNT_CAP
        return counted


def list_paginator(request: HttpRequest, queryset: Any, per_page: int) -> ConversionListPaginator:
    """The paginator of the list as this request filters and searches it."""
    paginator = ConversionListPaginator(queryset, per_page)
    paginator.tally_arguments = list_tally_arguments(request)
    return paginator


def list_tally_arguments(request: HttpRequest) -> dict[str, Any] | None:
    """The conversion tally's arguments for the list as this request filters it, or None when
    the tally cannot count it exactly (a search, or another filter)."""
    if request.GET.get(SEARCH_VAR, "").strip():
        return None
    filters = {k: v for k, v in request.GET.items() if k not in _NOT_FILTERS | {SEARCH_VAR}}
    return _tally_arguments(filters)


def list_totals(changelist: ChangeList) -> dict[str, Any]:
    """The totals of the list as filtered and searched, as the template shows them."""
    paginator = changelist.paginator
    if not isinstance(paginator, ConversionListPaginator):
        raise TypeError("The conversion list pages with ConversionListPaginator.")
    return _shown(paginator.totals)


def _tally_arguments(params: dict[str, Any]) -> dict[str, Any] | None:
    """The tally's arguments for these filters, or None when it cannot answer them exactly."""
    arguments: dict[str, Any] = {}
    for key, raw in params.items():
        value = raw[-1] if isinstance(raw, list) else raw
        name = _TALLIED.get(key)
        if name is None:
            return None
        try:
            if name == "status":
                if value not in Status.values:
                    return None
                arguments[name] = value
            elif name.endswith("_id"):
                arguments[name] = int(value)
            else:
                bound = range_value_parse(value)
                if bound is None:
                    continue
                if not tally_bound_is_exact(bound):
                    return None
                arguments[name] = bound
        except ValueError:
            return None
    return arguments


def _shown(totals: ConversionTotals) -> dict[str, Any]:
    prefix = "" if totals.exact else "at least "
    count = f"{totals.conversions - (0 if totals.exact else 1):,}"
    return {
        "exact": totals.exact,
        "conversions": count if totals.exact else f"more than {count}",
        "plural": totals.conversions != 1,
        "payout": prefix + money_by_currency(totals.payout),
        "revenue": prefix + money_by_currency(totals.revenue),
    }
