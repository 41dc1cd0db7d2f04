"""What the API reads: conversions as its answers show them, each page in a bounded number of
queries (one for the rows, one for their callbacks)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet

from callbacks.models import CallbackDelivery
from conversions.models import Conversion, Status, StatusChange

HISTORY_MAX = 100


# What the answers show (``conversion_fields``, ``gokart_fields``), and no more: the click,
# the event and the offer have some 60 columns between them, and loading every one of them
# doubled the Python time of a conversion's look-up (1.5 against 0.7 ms, measured).
_ANSWER_FIELDS = (
    "click__gk_click_id",
    "click__sub_id",
    "offer_event__code",
    "offer__currency",
    "offer_id",
    "partner_id",
    "status",
    "status_reason",
    "status_source",
    "status_changed_at",
    "status_version",
    "payout",
    "revenue",
    "transaction_id",
    "created_at",
)


def conversions_for_api() -> QuerySet[Conversion]:
    """Conversions with what the answers show of their click, event and offer."""
    return Conversion.objects.select_related("click", "offer_event", "offer").only(*_ANSWER_FIELDS)


def rewards_sent(conversions: Sequence[Conversion]) -> set[int]:
    """The conversions whose current Success has been delivered to the partner: the callback of
    the change that made them Success (its sequence number is their status version)."""
    successes = {c.pk: c.status_version for c in conversions if c.status == Status.SUCCESS}
    if not successes:
        return set()
    delivered = CallbackDelivery.objects.filter(
        conversion_id__in=list(successes), state=CallbackDelivery.State.DELIVERED
    ).values_list("conversion_id", "sequence_number")
    return {pk for pk, sequence in delivered if successes.get(pk) == sequence}


def conversion_fields(conversion: Conversion) -> dict[str, Any]:
    """A conversion in our own words (``schemas.ConversionOut``)."""
    return {
        "id": conversion.pk,
        "gk_click_id": conversion.click.gk_click_id,
        "sub_id": conversion.click.sub_id,
        "offer_id": conversion.offer_id,
        "offer_event": conversion.offer_event.code,
        "partner_id": conversion.partner_id,
        "status": conversion.status,
        "status_reason": conversion.status_reason,
        "status_source": conversion.status_source,
        "status_changed_at": conversion.status_changed_at,
        "status_version": conversion.status_version,
        "payout": conversion.payout,
        "revenue": conversion.revenue,
        "currency": conversion.offer.currency,
        "transaction_id": conversion.transaction_id,
        "created_at": conversion.created_at,
    }


def gokart_fields(conversion: Conversion, *, reward_sent: bool) -> dict[str, Any]:
    """A conversion event in GoKart's words (``schemas.GoKartConversion``)."""
    return {
        "conversionId": conversion.click.gk_click_id,
        "conversionEventId": conversion.pk,
        "eventId": conversion.offer_event.code,
        "offerId": conversion.offer_id,
        "status": Status(conversion.status).label,
        "rejectionReason": conversion.status_reason or None,
        "isRewardSent": reward_sent,
        "payout": conversion.payout,
        "revenue": conversion.revenue,
        "currency": conversion.offer.currency,
        "transactionId": conversion.transaction_id,
        "pubSub": conversion.click.sub_id,
        "completedAt": conversion.created_at,
    }


def status_history(*, conversion: Conversion) -> list[dict[str, Any]]:
    """The conversion's latest status changes, newest first, with their callbacks' states."""
    changes = list(
        StatusChange.objects.filter(conversion_id=conversion.pk)
        .select_related("user")
        .order_by("-sequence_number")[:HISTORY_MAX]
    )
    states = dict(
        CallbackDelivery.objects.filter(
            conversion_id=conversion.pk,
            sequence_number__in=[change.sequence_number for change in changes],
        ).values_list("sequence_number", "state")
    )
    return [
        {
            "sequence_number": change.sequence_number,
            "old_status": change.old_status,
            "new_status": change.new_status,
            "source": change.source,
            "user": change.user.get_username() if change.user else None,
            "import_job_id": change.import_job_id,
            "reason": change.reason,
            "callbacks_suppressed": change.callbacks_suppressed,
            "callback_state": states.get(change.sequence_number),
            "created_at": change.created_at,
        }
        for change in changes
    ]
