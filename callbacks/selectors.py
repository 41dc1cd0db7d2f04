"""Reads of the callback outbox shared by the admin and the background jobs."""

from __future__ import annotations

import contextlib
import uuid

from django.db.models import Q

from conversions.selectors import conversion_ids_of_click


def callback_delivery_search_condition(*, term: str) -> Q:
    """Deliveries matching a search term: a Conversion Event ID (numeric), a gk_click_id or a
    callback id (UUID), each an exact match on an index (deliveries by (conversion, sequence),
    clicks by gk_click_id, deliveries by primary key)."""
    term = term.strip()
    conversion_ids = conversion_ids_of_click(gk_click_id=term)
    if term.isascii() and term.isdigit() and len(term) < 19:
        conversion_ids.add(int(term))
    condition = Q(conversion_id__in=conversion_ids)
    with contextlib.suppress(ValueError):
        condition |= Q(pk=uuid.UUID(term))
    return condition
