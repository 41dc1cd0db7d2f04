"""Replaying callbacks: resending, as one background job, every Failed or Delivered callback
a selection names (a partner and a time range, or the deliveries list's current filter).

A selection is plain data (:class:`ReplaySelection`, carried to the task as query parameters,
never objects). The replay is one ``UPDATE``: the selected deliveries become pending, due now,
with a fresh retry window, under the same ids (partners dedupe on them) and with their old
``statusChangeNumber``; the claim's per-conversion ordering sends each conversion's in the order of
its changes. Pending and held ones are on their way already and are left alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from callbacks.dispatch import callback_deliveries_dispatch_on_commit
from callbacks.models import CallbackDelivery
from callbacks.selectors import callback_delivery_search_condition
from callbacks.services import RESENDABLE_STATES, state_when_resent

logger = logging.getLogger(__name__)

# What a replay sends again: the deliveries that can be resent (one rule, the service's).
REPLAYABLE = tuple(sorted(RESENDABLE_STATES))


@dataclass(frozen=True)
class ReplaySelection:
    """Which callbacks to replay: the deliveries list's filter parameters, by name."""

    partner_id: int | None = None
    states: tuple[str, ...] = REPLAYABLE
    created_from: datetime | None = None
    created_before: datetime | None = None
    search: str = ""

    @classmethod
    def from_params(cls, params: Any) -> ReplaySelection:
        """From the deliveries list's query string (``state__exact``, ``partner__id__exact``,
        ``created_at__gte``, ``created_at__lt``, ``q``); unknown parameters are ignored."""
        state = params.get("state__exact") or ""
        partner = params.get("partner__id__exact") or ""
        return cls(
            partner_id=int(partner) if partner.isdigit() else None,
            states=tuple(s for s in REPLAYABLE if not state or s == state),
            created_from=_moment(params.get("created_at__gte")),
            created_before=_moment(params.get("created_at__lt")),
            search=(params.get("q") or "").strip(),
        )

    def to_params(self) -> dict[str, str]:
        params = {}
        if self.partner_id is not None:
            params["partner__id__exact"] = str(self.partner_id)
        if len(self.states) == 1:
            params["state__exact"] = self.states[0]
        if self.created_from:
            params["created_at__gte"] = self.created_from.isoformat()
        if self.created_before:
            params["created_at__lt"] = self.created_before.isoformat()
        if self.search:
            params["q"] = self.search
        return params


def _moment(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            return None
        moment = datetime(day.year, day.month, day.day)
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


def replay_deliveries(selection: ReplaySelection) -> QuerySet[CallbackDelivery]:
    """The Failed or Delivered deliveries the selection names."""
    if not selection.states:
        return CallbackDelivery.objects.none()
    deliveries = CallbackDelivery.objects.filter(state__in=selection.states)
    if selection.partner_id is not None:
        deliveries = deliveries.filter(partner_id=selection.partner_id)
    if selection.created_from:
        deliveries = deliveries.filter(created_at__gte=selection.created_from)
    if selection.created_before:
        deliveries = deliveries.filter(created_at__lt=selection.created_before)
    if selection.search:
        deliveries = deliveries.filter(callback_delivery_search_condition(term=selection.search))
    return deliveries


def callback_deliveries_replay(*, selection: ReplaySelection, username: str = "system") -> int:
    """Resend every callback of the selection (see the module docstring); returns how many."""

    with transaction.atomic():
        replayed = (
            replay_deliveries(selection)
            .order_by()
            .update(
                state=state_when_resent(),
                next_attempt_at=timezone.now(),
                lease_expires_at=None,
                retrying_since=None,
            )
        )
        if replayed:
            logger.info("%s replayed %d callbacks (%s)", username, replayed, selection.to_params())
            callback_deliveries_dispatch_on_commit()
    return replayed
