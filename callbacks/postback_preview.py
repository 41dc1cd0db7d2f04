"""A partner's templated postbacks as its admin page previews them: each template filled with
the values of a recent status change it would have been sent for (the latest change of the
partner's latest conversion; of that event's, for an event postback).

Read-only: nothing is sent or stored. Two index probes per template: the partner's latest
conversion (``conversion_partner_id``), then its latest change (by conversion and number).
"""

from __future__ import annotations

from dataclasses import dataclass

from callbacks.callback_fields import change_amounts_annotation, event_sequence_annotation
from callbacks.models import Partner
from callbacks.postback_macros import MACRO_SOURCES, macro_values, postback_url_fill
from conversions.models import Conversion, StatusChange


@dataclass(frozen=True)
class PostbackPreview:
    which: str  # "global", or the event postback's id (what the test button posts)
    label: str
    template: str
    conversion_id: int | None  # None: no conversion to fill it with yet
    url: str


def _latest_change_values(*, partner_id: int, offer_event_id: int | None = None) -> dict | None:
    conversions = Conversion.objects.filter(partner_id=partner_id)
    if offer_event_id is not None:
        conversions = conversions.filter(offer_event_id=offer_event_id)
    conversion_id = conversions.order_by("-id").values_list("id", flat=True).first()
    if conversion_id is None:
        return None
    row = (
        StatusChange.objects.filter(conversion_id=conversion_id)
        .order_by("-sequence_number")
        .annotate(**event_sequence_annotation(), **change_amounts_annotation())
        .values_list(*MACRO_SOURCES)
        .first()
    )
    return None if row is None else dict(zip(MACRO_SOURCES, row, strict=True))


def partner_postbacks_preview(*, partner: Partner) -> list[PostbackPreview]:
    """The partner's global postback, then each event postback, filled for a recent change
    (``{callback_id}`` reads "(callback id)": each postback has its own)."""
    templates: list[tuple[str, str, str, int | None]] = []
    if partner.postback_url:
        templates.append(("global", "Global postback", partner.postback_url, None))
    for event_postback in partner.event_postbacks.select_related("offer_event__offer"):
        event = event_postback.offer_event
        label = f"Event postback: {event.offer.name} — {event.name} ({event.code})"
        templates.append((str(event_postback.pk), label, event_postback.url_template, event.pk))
    previews = []
    for which, label, template, offer_event_id in templates:
        read = _latest_change_values(partner_id=partner.pk, offer_event_id=offer_event_id)
        if read is None:
            previews.append(PostbackPreview(which, label, template, None, ""))
            continue
        values = macro_values(callback_id="(callback id)", read=read)
        url = postback_url_fill(template, values)
        previews.append(PostbackPreview(which, label, template, read["conversion_id"], url))
    return previews
