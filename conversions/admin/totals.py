"""The totals line of Conversion Management: how many conversions the current filter and search
match, with their payout and revenue per currency.

Exact, from the conversion tally, when the list is filtered by nothing but status, offer,
partner and a created range on hour boundaries (``created_at__gte``/``__lt``; a date is a day
boundary), and searched for nothing. Otherwise counted up to the paginator's bound
(``LargeTablePaginator.COUNT_CAP``), and said as "more than …" past it.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from django.contrib.admin.views.main import ChangeList

from conversions.admin.display import money_by_currency
from conversions.admin.filters import range_value_parse
from conversions.models import Status
from conversions.selectors import (
    ConversionTotals,
    conversion_totals_counted,
    conversion_totals_tallied,
)
from gokart.admin_base import LargeTablePaginator

# The list's query parameters the tally can answer, and the tally's argument for each.
_TALLIED = {
    "status__exact": "status",
    "offer__id__exact": "offer_id",
    "partner__id__exact": "partner_id",
    "created_at__gte": "created_from",
    "created_at__lt": "created_before",
}


def list_totals(changelist: ChangeList) -> dict[str, Any]:
    """The totals of the list as filtered and searched, as the template shows them."""
    arguments = None if changelist.query else _tally_arguments(changelist.get_filters_params())
    if arguments is not None:
        totals = conversion_totals_tallied(**arguments)
    else:
        totals = conversion_totals_counted(
            queryset=changelist.queryset, cap=LargeTablePaginator.COUNT_CAP
        )
    return _shown(totals)


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
                bound = bound.astimezone(UTC)
                if (bound.minute, bound.second, bound.microsecond) != (0, 0, 0):
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
