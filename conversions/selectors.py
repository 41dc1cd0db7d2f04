"""Reads of conversions that the admin pages make: search, status counts and history.

Each reads an index and is bounded, so that the pages stay fast on tens of millions of rows.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Count, QuerySet

from conversions.models import Conversion, Status, StatusChange

# A search term matches at most this many conversions per kind (a click has a few events).
SEARCH_MATCHES_MAX = 1000


def conversion_ids_matching(*, term: str) -> set[int]:
    """The conversions a search term names exactly: its Conversion Event ID (when numeric), the
    conversions of the click with that gk_click_id, or those with that advertiser transaction
    id. Each is an exact match on its own index, never a LIKE scan."""
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
    """The conversion's latest ``limit`` status changes, newest first, with who made them."""
    return (
        StatusChange.objects.filter(conversion_id=conversion_id)
        .select_related("user", "import_job")
        .order_by("-sequence_number")[:limit]
    )
