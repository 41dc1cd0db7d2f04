"""What a delivery sends, rendered once: the JSON callback's body, or a postback's filled URL.

The payload is rendered from the status change the delivery is owed for (its status, reason
and sequence number) and the conversion's tracked fields, before the first attempt, and kept in
``CallbackDelivery.payload``: every retry and every resend sends the same content. Only
``sentAt`` is set per attempt (it is the attempt's time, like the signed ``webhook-timestamp``),
so it is not stored.

Money is sent as decimal strings ("1.5000") so that no float rounding creeps in; times are
ISO 8601 in UTC with milliseconds ("2026-01-31T12:00:00.000Z"); ``eventId`` is the offer
event's numeric id (``conversionId`` is the conversion's, the report's "Conversion Event ID").

A templated postback's payload is ``{"id", "url"}``: the partner's template as it is when the
postback is first sent (the global one, or the one for the conversion's offer event), filled
with the status change's values (``callbacks.postback_macros``); "" when the partner has
removed that template since (the send then fails, saying so). Retries, resends and replays
send that same URL.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from django.db.models import OuterRef, Subquery

from callbacks.models import CallbackDelivery, PartnerEventPostback
from callbacks.postback_macros import MACRO_SOURCES, macro_values, postback_url_fill


def timestamp_format(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_FIELDS = {
    "id": "id",
    "status": "status_change__new_status",
    "reason": "status_change__reason",
    "sequence_number": "sequence_number",
    "conversion_id": "conversion_id",
    "click_id": "conversion__click__gk_click_id",
    "offer_id": "conversion__offer_id",
    "offer_name": "conversion__offer__name",
    "event_id": "conversion__offer_event_id",
    "event_name": "conversion__offer_event__name",
    "payout": "conversion__payout",
    "revenue": "conversion__revenue",
    "currency": "conversion__offer__currency",
    "sub_id": "conversion__click__sub_id",
    "created_at": "conversion__created_at",
    "clicked_at": "conversion__click__created_at",
}


def callback_payloads_render(*, delivery_ids: Iterable[UUID]) -> dict[UUID, dict[str, Any]]:
    """The payloads (without ``sentAt``) of these deliveries: the JSON callbacks' in one query,
    the postbacks' in another."""
    deliveries = CallbackDelivery.objects.filter(pk__in=list(delivery_ids))
    Kind = CallbackDelivery.Kind
    return {
        **_json_payloads(deliveries.filter(kind=Kind.CALLBACK)),
        **_postback_payloads(deliveries.exclude(kind=Kind.CALLBACK)),
    }


def _postback_payloads(deliveries: Any) -> dict[UUID, dict[str, Any]]:
    event_template = PartnerEventPostback.objects.filter(
        partner_id=OuterRef("partner_id"),
        offer_event_id=OuterRef("status_change__conversion__offer_event_id"),
    ).values("url_template")[:1]
    sources = [f"status_change__{source}" for source in MACRO_SOURCES]
    rows = deliveries.annotate(event_template=Subquery(event_template)).values_list(
        "id", "kind", "partner__postback_url", "event_template", *sources
    )
    payloads = {}
    for delivery_id, kind, global_template, event_template_now, *values in rows:
        template = global_template if kind == CallbackDelivery.Kind.POSTBACK else event_template_now
        filled = macro_values(
            callback_id=str(delivery_id), read=dict(zip(MACRO_SOURCES, values, strict=True))
        )
        payloads[delivery_id] = {
            "id": str(delivery_id),
            "url": postback_url_fill(template, filled) if template else "",
        }
    return payloads


def _json_payloads(deliveries: Any) -> dict[UUID, dict[str, Any]]:
    rows = deliveries.values_list(*_FIELDS.values())
    payloads = {}
    for values in rows:
        row = dict(zip(_FIELDS, values, strict=True))
        payloads[row["id"]] = {
            "id": str(row["id"]),
            "conversion": {
                "status": row["status"].capitalize(),
                "rejectionReason": (row["reason"] or None) if row["status"] == "rejected" else None,
                "conversionId": row["conversion_id"],
                "clickId": row["click_id"],
                "offerId": row["offer_id"],
                "offerName": row["offer_name"],
                "eventId": row["event_id"],
                "eventName": row["event_name"],
                "payout": str(row["payout"]),
                "revenue": str(row["revenue"]),
                "currency": row["currency"],
                "pubSub": row["sub_id"],
                "sequenceNumber": row["sequence_number"],
                "createdAt": timestamp_format(row["created_at"]),
                "clickTime": timestamp_format(row["clicked_at"]),
            },
        }
    return payloads


def callback_body(*, payload: dict[str, Any], sent_at: datetime) -> str:
    """The JSON sent for one attempt: the stored payload with this attempt's ``sentAt``."""
    body = {"id": payload["id"], "sentAt": timestamp_format(sent_at), **payload}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)
