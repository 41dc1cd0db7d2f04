"""What a delivery sends, rendered once: the JSON callback's body, or a postback's filled URL.

The payload is rendered from the status change the delivery is owed for (its status, reason
and sequence number) and the conversion's tracked fields, before the first attempt, and kept in
``CallbackDelivery.payload``: every retry and every resend sends the same content. Only
``sentAt`` is set per attempt (it is the attempt's time, like the signed ``webhook-timestamp``),
so it is not stored.

The JSON callback's ``conversion`` object is GoKart's callback schema, field by field
(``callbacks.callback_fields``, which says what each carries). Money is sent as decimal strings
("1.5000") so that no float rounding creeps in; times are ISO 8601 in UTC with milliseconds
("2026-01-31T12:00:00.000Z"). A batch's payloads are read in one query per kind.

A templated postback's payload is ``{"id", "url"}``: the partner's template as it is when the
postback is first sent (the global one, or the one for the conversion's offer event), filled
with the status change's values (``callbacks.postback_macros``); "" when the partner has
removed that template since (the send then fails, saying so). Retries, resends and replays
send that same URL.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db.models import OuterRef, Subquery

from callbacks.callback_fields import (
    ANNOTATED,
    READ,
    change_amounts_annotation,
    conversion_fields,
    event_sequence_annotation,
    timestamp_format,
)
from callbacks.models import CallbackDelivery, PartnerEventPostback
from callbacks.postback_macros import MACRO_SOURCES, macro_values, postback_url_fill


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
    sources = [
        source if source in ANNOTATED else f"status_change__{source}" for source in MACRO_SOURCES
    ]
    rows = deliveries.annotate(
        event_template=Subquery(event_template),
        **event_sequence_annotation(),
        **change_amounts_annotation(change="status_change__"),
    ).values_list("id", "kind", "partner__postback_url", "event_template", *sources)
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
    rows = deliveries.annotate(
        **event_sequence_annotation(), **change_amounts_annotation(change="status_change__")
    ).values_list(*READ.values())
    payloads = {}
    for values in rows:
        row = dict(zip(READ, values, strict=True))
        payloads[row["id"]] = {"id": str(row["id"]), "conversion": conversion_fields(row)}
    return payloads


def callback_body(*, payload: dict[str, Any], sent_at: datetime) -> str:
    """The JSON sent for one attempt: the stored payload with this attempt's ``sentAt``."""
    body = {"id": payload["id"], "sentAt": timestamp_format(sent_at), **payload}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)
