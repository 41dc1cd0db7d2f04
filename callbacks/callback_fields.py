"""The JSON callback's ``conversion`` object, field by field: GoKart's callback schema (v1), so
that a partner built against GoKart's finds every field it reads, and a few of our own.

GoKart's documented example ("Callback Schema: v1", support.getgokart.ai) names every field;
we send all of them, in its order, ``null`` where we have nothing to say (:data:`UNFILLED`),
then ours (:data:`OWN_FIELDS`). ``tests/callbacks/test_callback_fields.py`` holds the keys
against that example. What each field carries here:

- ``status``, ``rejectionReason``: the status change's (the reason on a Rejected only);
- ``userCompletedAt`` and ``createdAt``: when the conversion was recorded (the postback's time;
  we have no earlier completion time); ``clickTime``: the click's;
- ``isRewardSent``: true on a Success callback, false on Pending and Rejected. A Success is the
  status a partner rewards its user on, so this says "this callback is the reward"; the
  Management API's ``isRewardSent`` is the other view, after the fact: whether the callback of
  the conversion's current Success was delivered;
- ``clickId``: the click's ``gk_click_id``; ``conversionId``: the Conversion Event ID (the
  report's ID column); ``offerId``, ``offerName``, ``offerAdvertiserName``; ``eventId`` and
  ``offerEventId``: the offer event's numeric id; ``eventName``;
- ``revenue``: the network's revenue for the event; our ``payout`` (the partner's) and
  ``currency`` beside it (GoKart's ``rewardPoints`` are points, which we do not have);
- ``pubMemberId``, ``pubClickId``, ``pubSub1`` … ``pubSub15``: the click's ``pub_member_id``
  (or ``sub``), ``pub_click_id``, ``pub_sub_1`` … ``pub_sub_15``, null when not sent;
- ``trackSysEventId``: the event code the advertiser sends (``cnv_event_id`` or ``event``);
  ``trackSysConversionId``: its transaction id (``cnv_conversion_id`` or ``txn_id``);
  ``trackSysConversionAmount`` (a decimal string), ``trackSysConversionIpAddress``,
  ``trackSysConversionUserId``, ``trackSysConversionSub1`` … ``5``: the postback's ``cnv_*``,
  null when not sent. ``trackSysConversionEmail`` is always null: ``cnv_email`` is personal
  data and never leaves the back office;
- ``sequenceNumber``: by the partner's choice (``Partner.sequence_number``), the conversion's
  status-change counter (the default: what it has always meant here, and what receivers order
  by) or GoKart's meaning, the order of the conversion's event among its offer's events (1, 2,
  3… as the offer lists them) on a multi-event offer, null on a single-event one. Our events
  have no "independent" kind, so every event of a multi-event offer has a number;
- ``partnerId``, ``partnerName``: the partner the callback is sent to;
- ours: ``statusChangeNumber`` is the conversion's status-change counter (1 for the status it
  was recorded with, +1 per change), whatever ``sequenceNumber`` carries, for a receiver
  to order a conversion's callbacks and ignore an older one; ``pubSub`` is ``pubMemberId``'s
  older name (""), kept for partners that read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from django.db.models import Case, Count, Expression, IntegerField, OuterRef, Subquery, When
from django.db.models.functions import Coalesce
from django.db.models.lookups import GreaterThan

from conversions import tracking_parameters

# The annotation that carries GoKart's sequenceNumber (see event_sequence_annotation).
EVENT_SEQUENCE = "event_sequence_number"
# The annotations that carry the amounts a status change left (see change_amounts_annotation).
CHANGE_PAYOUT = "change_payout"
CHANGE_REVENUE = "change_revenue"
# Every name above: read as annotations, not as paths.
ANNOTATED = (EVENT_SEQUENCE, CHANGE_PAYOUT, CHANGE_REVENUE)

# The numbers of the click's pub_sub_N and the postback's cnv_sub_N (their counts are the
# parameters' rules, conversions.tracking_parameters).
PUB_SUBS = range(1, tracking_parameters.PUB_SUBS + 1)
CNV_SUBS = range(1, tracking_parameters.CNV_SUBS + 1)

# GoKart's fields, in the order of its documented example.
GOKART_FIELDS = (
    "status",
    "rejectionReason",
    "userCompletedAt",
    "isRewardSent",
    "viewId",
    "clickId",
    "conversionId",
    "offerId",
    "offerName",
    "offerAdvertiserId",
    "offerEventId",
    "offerAdvertiserName",
    "offerCategoryId",
    "offerCategoryName",
    "offerCountryId",
    "offerCountryCode2",
    "offerCountryCode3",
    "eventId",
    "eventName",
    "rewardPoints",
    "revenue",
    "pubMemberId",
    "pubClickId",
    "pubSessionId",
    "pubGender",
    "pubAge",
    "pubGeoCountry",
    "pubGeoState",
    "pubPostalCode",
    *(f"pubSub{n}" for n in PUB_SUBS),
    "pubDevice",
    "trackSysEventId",
    "trackSysConversionId",
    "trackSysConversionAmount",
    "trackSysConversionIpAddress",
    "trackSysConversionEmail",
    "trackSysConversionUserId",
    *(f"trackSysConversionSub{n}" for n in CNV_SUBS),
    "sequenceNumber",
    "partnerId",
    "partnerName",
    "createdAt",
    "clickTime",
)
# GoKart's fields we have no value for: sent, always null.
UNFILLED = (
    "viewId",
    "offerAdvertiserId",
    "offerCategoryId",
    "offerCategoryName",
    "offerCountryId",
    "offerCountryCode2",
    "offerCountryCode3",
    "rewardPoints",
    "pubSessionId",
    "pubGender",
    "pubAge",
    "pubGeoCountry",
    "pubGeoState",
    "pubPostalCode",
    "pubDevice",
    "trackSysConversionEmail",
)
OWN_FIELDS = ("payout", "currency", "pubSub", "statusChangeNumber")
# Every key of the conversion object, in the order it is sent and shown.
CONVERSION_KEYS = (*GOKART_FIELDS, *OWN_FIELDS)

# What a JSON callback reads, by name, as paths from its delivery (one query for a batch).
READ = {
    "id": "id",
    "status": "status_change__new_status",
    "reason": "status_change__reason",
    "status_change_number": "sequence_number",
    "conversion_id": "conversion_id",
    "click_id": "conversion__click__gk_click_id",
    "offer_id": "conversion__offer_id",
    "offer_name": "conversion__offer__name",
    "advertiser": "conversion__offer__advertiser",
    "event_id": "conversion__offer_event_id",
    "event_code": "conversion__offer_event__code",
    "event_name": "conversion__offer_event__name",
    "payout": CHANGE_PAYOUT,
    "revenue": CHANGE_REVENUE,
    "currency": "conversion__offer__currency",
    "transaction_id": "conversion__transaction_id",
    "amount": "conversion__cnv_amount",
    "ip_address": "conversion__cnv_conversion_ip_address",
    "user_id": "conversion__cnv_user_id",
    **{f"cnv_sub_{n}": f"conversion__cnv_sub_{n}" for n in CNV_SUBS},
    "sub_id": "conversion__click__sub_id",
    "pub_click_id": "conversion__click__pub_click_id",
    **{f"pub_sub_{n}": f"conversion__click__pub_sub_{n}" for n in PUB_SUBS},
    "partner_id": "partner_id",
    "partner_name": "partner__name",
    "sequence_meaning": "partner__sequence_number",
    "created_at": "conversion__created_at",
    "clicked_at": "conversion__click__created_at",
    "event_sequence": EVENT_SEQUENCE,
}


def event_sequence_annotation() -> dict[str, Expression]:
    """GoKart's ``sequenceNumber`` as an annotation named :data:`EVENT_SEQUENCE`, over rows
    that reach their conversion by ``conversion`` (a delivery, a status change): the position
    of its event among its offer's events by id, or null when the offer has one event. Two
    index probes per row, inside the batch's one query."""
    from conversions.models import OfferEvent

    def counted(**conditions: Any) -> Subquery:
        events = OfferEvent.objects.filter(offer_id=OuterRef("conversion__offer_id"), **conditions)
        return Subquery(
            events.order_by().values("offer_id").annotate(n=Count("*")).values("n")[:1],
            output_field=IntegerField(),
        )

    position = counted(id__lte=OuterRef("conversion__offer_event_id"))
    return {
        EVENT_SEQUENCE: Case(
            When(GreaterThan(counted(), 1), then=position),
            default=None,
            output_field=IntegerField(),
        )
    }


def change_amounts_annotation(*, change: str = "") -> dict[str, Expression]:
    """The payout and revenue a status change left, as the annotations :data:`CHANGE_PAYOUT` and
    :data:`CHANGE_REVENUE`, over status changes (``change=""``) or rows that reach one by
    ``change`` (a delivery: ``"status_change__"``): its audit row's amounts, so that a callback
    owed for an older change says what that change left, not what a later amount change did;
    the conversion's for a row written before audit rows recorded amounts (when they never
    changed)."""
    return {
        CHANGE_PAYOUT: Coalesce(f"{change}payout", "conversion__payout"),
        CHANGE_REVENUE: Coalesce(f"{change}revenue", "conversion__revenue"),
    }


def timestamp_format(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds: "2026-01-31T12:00:00.000Z"."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _given(value: Any) -> str | None:
    """A value the partner or advertiser may not have sent: null for "" (and for None)."""
    return None if value in ("", None) else str(value)


def conversion_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """The ``conversion`` object of a JSON callback from its :data:`READ` row, in the order of
    GoKart's example, then ours."""
    status = row["status"]
    filled = {
        "status": status.capitalize(),
        "rejectionReason": (row["reason"] or None) if status == "rejected" else None,
        "userCompletedAt": timestamp_format(row["created_at"]),
        "isRewardSent": status == "success",
        "clickId": row["click_id"],
        "conversionId": row["conversion_id"],
        "offerId": row["offer_id"],
        "offerName": row["offer_name"],
        "offerEventId": row["event_id"],
        "offerAdvertiserName": row["advertiser"],
        "eventId": row["event_id"],
        "eventName": row["event_name"],
        "revenue": str(row["revenue"]),
        # What the partner's click carried (pub_*).
        "pubMemberId": _given(row["sub_id"]),
        "pubClickId": _given(row["pub_click_id"]),
        **{f"pubSub{n}": _given(row[f"pub_sub_{n}"]) for n in PUB_SUBS},
        # What the advertiser's postback said (cnv_*); never its email (UNFILLED).
        "trackSysEventId": row["event_code"],
        "trackSysConversionId": _given(row["transaction_id"]),
        "trackSysConversionAmount": _given(row["amount"]),
        "trackSysConversionIpAddress": _given(row["ip_address"]),
        "trackSysConversionUserId": _given(row["user_id"]),
        **{f"trackSysConversionSub{n}": _given(row[f"cnv_sub_{n}"]) for n in CNV_SUBS},
        "sequenceNumber": _sequence_number(row),
        "partnerId": row["partner_id"],
        "partnerName": row["partner_name"],
        "createdAt": timestamp_format(row["created_at"]),
        "clickTime": timestamp_format(row["clicked_at"]),
        "payout": str(row["payout"]),
        "currency": row["currency"],
        "pubSub": row["sub_id"],
        "statusChangeNumber": row["status_change_number"],
    }
    # The order and the nulls come from the key lists alone.
    return {key: None if key in UNFILLED else filled[key] for key in CONVERSION_KEYS}


def _sequence_number(row: Mapping[str, Any]) -> int | None:
    """The partner's choice (``Partner.sequence_number``): the status-change counter, as
    sequenceNumber has always meant here, or GoKart's place of the event."""
    if row["sequence_meaning"] == "event_order":  # Partner.SequenceNumber.EVENT_ORDER
        return row["event_sequence"]
    return row["status_change_number"]
