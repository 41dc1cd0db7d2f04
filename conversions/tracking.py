"""Tracking: recording clicks and the conversions that advertisers' postbacks report."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from callbacks import services as callback_services
from callbacks.models import Partner
from conversions.models import Click, Conversion, Offer, OfferEvent, Source, Status, StatusChange


class TrackingError(Exception):
    """A request that cannot be attributed: nothing is recorded, the caller gets ``status``."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class PostbackResult:
    conversion: Conversion
    duplicate: bool


def click_record(
    *, offer_id: int, partner_id: int, sub_id: str, ip_address: str | None
) -> tuple[Click, str]:
    """Record a click; returns it and the landing URL to redirect to."""
    offer = Offer.objects.filter(pk=offer_id, is_active=True).first()
    if offer is None:
        raise TrackingError("Unknown or inactive offer.", status=404)
    if not Partner.objects.filter(pk=partner_id, is_active=True).exists():
        raise TrackingError("Unknown or inactive partner.", status=404)
    click = Click.objects.create(
        offer=offer, partner_id=partner_id, sub_id=sub_id, ip_address=ip_address
    )
    return click, offer.landing_url.replace("{gk_click_id}", click.gk_click_id)


def conversion_record_from_postback(
    *,
    gk_click_id: str,
    event_code: str | None,
    transaction_id: str,
    token: str,
    now: datetime | None = None,
) -> PostbackResult:
    """Record the conversion a postback reports, idempotently.

    Raises ``TrackingError`` for a postback that cannot be attributed (unknown click: 404, bad
    token: 403, unknown or missing event: 400). A postback that is attributable but breaks a
    business rule (inactive offer, outside the attribution window) is recorded as Rejected with
    the reason. A repeat (same click and event, or same transaction id on the offer) returns the
    conversion already recorded, with ``duplicate=True``.
    """
    now = now or timezone.now()
    click = Click.objects.select_related("offer").filter(gk_click_id=gk_click_id).first()
    if click is None:
        raise TrackingError("Unknown gk_click_id.", status=404)
    offer = click.offer
    if not hmac.compare_digest(token.encode(), offer.postback_secret.encode()):
        raise TrackingError("Invalid token.", status=403)
    offer_event = _offer_event_find(offer=offer, event_code=event_code)

    existing = _duplicate_find(click=click, offer_event=offer_event, transaction_id=transaction_id)
    if existing is not None:
        return PostbackResult(conversion=existing, duplicate=True)

    status, reason, pending_until = _initial_status(offer=offer, click=click, now=now)
    try:
        with transaction.atomic():
            conversion = Conversion.objects.create(
                click=click,
                offer_event=offer_event,
                offer=offer,
                partner_id=click.partner_id,
                status=status,
                status_reason=reason,
                status_source=Source.POSTBACK,
                status_changed_at=now,
                status_version=1,
                pending_until=pending_until,
                payout=offer_event.payout,
                revenue=offer_event.revenue,
                transaction_id=transaction_id,
                created_at=now,
            )
            change = StatusChange.objects.create(
                conversion=conversion,
                old_status="",
                new_status=status,
                source=Source.POSTBACK,
                reason=reason,
                sequence_number=1,
                created_at=now,
            )
            if callback_services.callback_deliveries_create(status_changes=[change]):
                callback_services.callback_deliveries_dispatch_on_commit()
    except IntegrityError:
        # A concurrent copy of this postback won the race: answer as for any duplicate.
        existing = _duplicate_find(
            click=click, offer_event=offer_event, transaction_id=transaction_id
        )
        if existing is None:
            raise
        return PostbackResult(conversion=existing, duplicate=True)
    return PostbackResult(conversion=conversion, duplicate=False)


def _offer_event_find(*, offer: Offer, event_code: str | None) -> OfferEvent:
    events = list(offer.events.all()[:2]) if not event_code else []
    if not event_code:
        if len(events) != 1:
            raise TrackingError(
                "Missing parameter 'event': this offer has several events.", status=400
            )
        return events[0]
    offer_event = OfferEvent.objects.filter(offer=offer, code=event_code).first()
    if offer_event is None:
        raise TrackingError(f"Unknown event {event_code!r} for this offer.", status=400)
    return offer_event


def _duplicate_find(
    *, click: Click, offer_event: OfferEvent, transaction_id: str
) -> Conversion | None:
    same_event = Conversion.objects.filter(click=click, offer_event=offer_event).first()
    if same_event is not None or not transaction_id:
        return same_event
    return Conversion.objects.filter(offer_id=click.offer_id, transaction_id=transaction_id).first()


def _initial_status(
    *, offer: Offer, click: Click, now: datetime
) -> tuple[str, str, datetime | None]:
    if not offer.is_active:
        return Status.REJECTED, "Offer is inactive.", None
    if now - click.created_at > offer.attribution_window:
        return Status.REJECTED, "Conversion is outside the offer's attribution window.", None
    if offer.rewarding_mode == Offer.RewardingMode.MANUAL:
        return Status.PENDING, "", None
    if offer.pending_time:
        return Status.PENDING, "", now + offer.pending_time
    return Status.SUCCESS, "", None
