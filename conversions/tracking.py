"""Tracking: recording clicks and the conversions that advertisers' postbacks report.

A postback is validated in this order, and the first failure answers:

1. unknown ``gk_click_id`` → 404; 2. token neither the offer's postback secret nor one it
   replaced whose grace has not run out (``conversions.postback_tokens``) → 403;
3. ``event`` unknown to the offer, or left out on a multi-event offer → 400.

Nothing is recorded for those. A postback that gets past them is attributable and is recorded
(once: a repeat by click and event, or by the offer's transaction id, answers the conversion
already recorded with ``duplicate=True``), with the status the offer gives it:

- inactive offer → Rejected, "Offer is inactive.";
- click older than the offer's attribution window → Rejected, with that reason;
- manual offer → Pending (until an admin decides);
- automatic offer with a pending time → Pending until then (``pending_until``), after which
  the pending-time task moves it to Success;
- automatic offer → Success.

The new conversion, its first ``StatusChange`` audit row (old status "" → new, source
postback, sequence 1) and, when the partner wants that status, its ``CallbackDelivery`` outbox
row are written together, with the conversion tally's +1: one ``INSERT … ON CONFLICT DO
NOTHING`` statement with the audit trail's writer (``conversions.audit``) chained to it, so a
busy postback endpoint costs two round trips (attribute, record); concurrent copies of one
postback are settled by the unique constraints, never by a read-then-write race.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection
from django.db.models import Model, Q
from django.utils import timezone

from callbacks import services as callback_services
from callbacks.models import Partner
from callbacks.status_change_rows import StatusChangeRows
from conversions.audit import (
    AUDIT_ID_SEQUENCE_SQL,
    AuditContext,
    callback_owed_sql_for,
    status_change_hash_sql,
    status_changes_record_sql,
)
from conversions.models import Click, Conversion, Offer, Source, Status
from gokart.encryption import token_digest


class TrackingError(Exception):
    """A request that cannot be attributed: nothing is recorded, the caller gets ``status``."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class PostbackResult:
    conversion_id: int
    status: str
    duplicate: bool


def click_record(
    *, offer_id: int, partner_id: int, sub_id: str, ip_address: str | None
) -> tuple[Click, str]:
    """Record a click; returns it and the offer's landing URL with ``{gk_click_id}`` filled in.

    Raises ``TrackingError`` (404) for an unknown or inactive offer or partner.
    """
    offer = Offer.objects.filter(pk=offer_id).only("is_active", "landing_url").first()
    if offer is None:
        raise TrackingError(f"Unknown offer {offer_id}.", status=404)
    if not offer.is_active:
        raise TrackingError(f"Offer {offer_id} is not active.", status=404)
    partner_active = (
        Partner.objects.filter(pk=partner_id).values_list("is_active", flat=True).first()
    )
    if partner_active is None:
        raise TrackingError(f"Unknown partner {partner_id}.", status=404)
    if not partner_active:
        raise TrackingError(f"Partner {partner_id} is not active.", status=404)
    click = Click.objects.create(
        offer_id=offer_id, partner_id=partner_id, sub_id=sub_id, ip_address=ip_address
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
    """Record the conversion a postback reports, idempotently (see the module docstring).

    Raises ``TrackingError`` for a postback that cannot be attributed (404 unknown click, 403
    bad token, 400 unknown or missing event). Callbacks are queued after commit.
    """
    now = now or timezone.now()
    found = _attribution_find(gk_click_id=gk_click_id, event_code=event_code, now=now)
    attribution, offer_event = _attribution_check(found, event_code=event_code, token=token)
    status, reason, pending_until = _initial_status(attribution, now=now)
    conversion = Conversion(
        click_id=attribution.click_id,
        offer_event_id=offer_event.id,
        offer_id=attribution.offer_id,
        partner_id=attribution.partner_id,
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
    recorded = _conversion_insert(conversion=conversion)
    if not recorded:
        return _duplicate_result(conversion=conversion)
    return PostbackResult(conversion_id=conversion.pk, status=status, duplicate=False)


@dataclass(frozen=True)
class _OfferEvent:
    id: int
    payout: Decimal
    revenue: Decimal


@dataclass(frozen=True)
class _Attribution:
    """A click, its offer and the offer event a postback names (``None`` when none matched)."""

    click_id: int
    partner_id: int
    clicked_at: datetime
    offer_id: int
    offer_is_active: bool
    rewarding_mode: str
    pending_time: timedelta | None
    attribution_window: timedelta
    # The current token, then those replaced by rotations and still accepted.
    postback_tokens: tuple[str, ...]
    offer_event: _OfferEvent | None


# One query for the click, its offer, its tokens and the event: the event named by the
# postback, or (when it names none) the offer's first two, to tell a single-event offer from a
# multi-event one. Replaced tokens are read from their (offer, expires_at) index: usually none.
_ATTRIBUTION_SQL = """
    SELECT c.id, c.partner_id, c.created_at, o.id, o.is_active, o.rewarding_mode,
           o.pending_time, o.attribution_window,
           ARRAY[o.postback_secret] || ARRAY(
               SELECT r.token FROM conversions_replacedpostbacktoken r
               WHERE r.offer_id = o.id AND r.expires_at > %s
           ),
           e.id, e.payout, e.revenue
    FROM conversions_click c
    JOIN conversions_offer o ON o.id = c.offer_id
    LEFT JOIN conversions_offerevent e ON e.offer_id = o.id AND {event_condition}
    WHERE c.gk_click_id = %s
    ORDER BY e.id
    LIMIT 2
"""


def _attribution_find(
    *, gk_click_id: str, event_code: str | None, now: datetime
) -> list[_Attribution]:
    # Raw SQL: the ORM would spend longer compiling this query than PostgreSQL running it.
    if event_code:
        sql, params = _ATTRIBUTION_SQL.format(event_condition="e.code = %s"), [event_code]
    else:
        sql, params = _ATTRIBUTION_SQL.format(event_condition="true"), []
    with connection.cursor() as cursor:
        cursor.execute(sql, [now, *params, gk_click_id])
        return [
            _Attribution(
                click_id=row[0],
                partner_id=row[1],
                clicked_at=row[2],
                offer_id=row[3],
                offer_is_active=row[4],
                rewarding_mode=row[5],
                pending_time=row[6],
                attribution_window=row[7],
                postback_tokens=tuple(row[8]),
                offer_event=_OfferEvent(*row[9:]) if row[9] else None,
            )
            for row in cursor.fetchall()
        ]


def _attribution_check(
    found: list[_Attribution], *, event_code: str | None, token: str
) -> tuple[_Attribution, _OfferEvent]:
    """The one click and offer event a postback names, or the ``TrackingError`` that refuses it."""
    if not found:
        raise TrackingError("Unknown gk_click_id.", status=404)
    attribution = found[0]
    if not _token_accepted(attribution.postback_tokens, token):
        raise TrackingError("Invalid token.", status=403)
    if attribution.offer_event is None:
        if event_code:
            raise TrackingError(f"Unknown event {event_code!r} for this offer.", status=400)
        raise TrackingError("This offer has no events to record.", status=400)
    if len(found) > 1:
        raise TrackingError("Missing parameter 'event': this offer has several events.", status=400)
    return attribution, attribution.offer_event


def _token_accepted(accepted: tuple[str, ...], token: str) -> bool:
    """Whether ``token`` is one of the offer's accepted tokens. Every one is compared, each in
    constant time, so the answer's timing tells nothing of which matched or how much."""
    given = token_digest(token).encode()  # the columns hold digests (gokart.encryption)
    matches = [hmac.compare_digest(candidate.encode(), given) for candidate in accepted]
    return any(matches)


def _initial_status(
    attribution: _Attribution, *, now: datetime
) -> tuple[str, str, datetime | None]:
    """The status, reason and ``pending_until`` a new conversion gets from its offer."""
    if not attribution.offer_is_active:
        return Status.REJECTED, "Offer is inactive.", None
    if now - attribution.clicked_at > attribution.attribution_window:
        return Status.REJECTED, "Conversion is outside the offer's attribution window.", None
    if attribution.rewarding_mode == Offer.RewardingMode.MANUAL:
        return Status.PENDING, "", None
    if attribution.pending_time:
        return Status.PENDING, "", now + attribution.pending_time
    return Status.SUCCESS, "", None


def _insert_values(instance: Model) -> dict[str, Any]:
    """Database values of an unsaved instance by column, as ``Model.save()`` would insert them
    (so a field added later with a default is written here too)."""
    return {
        str(field.column): field.get_db_prep_save(field.pre_save(instance, True), connection)
        for field in instance._meta.concrete_fields
        if not field.primary_key
    }


def _conversion_insert(*, conversion: Conversion) -> bool:
    """Insert the conversion, its first audit row and its outbox row in one statement; False
    (and nothing written) when a conversion for the same click and event or transaction
    exists."""
    values = _insert_values(conversion)
    params: dict[str, Any] = {f"conversion_{column}": value for column, value in values.items()}
    params.update(AuditContext(source=Source.POSTBACK).params())
    columns = ", ".join(connection.ops.quote_name(column) for column in values)
    placeholders = ", ".join(f"%(conversion_{column})s" for column in values)
    changes = StatusChangeRows("first_change")
    changes_columns = changes.columns_sql(
        conversion="c",
        old_status="''::varchar",
        audit_id=f"nextval({AUDIT_ID_SEQUENCE_SQL})",
        callback_owed="n.callback_owed",
    )
    record_sql = status_changes_record_sql(changes=changes, send_callbacks=True)
    # The first link of the conversion's hash chain is written with it, so its id is drawn
    # first; whether the status owes a callback is decided once, here, for the hash, the audit
    # row and the outbox insert.
    owed = callback_owed_sql_for(partner="p", status="%(conversion_status)s::text")
    chain_hash = status_change_hash_sql(
        conversion_id="n.id",
        sequence_number="%(conversion_status_version)s::bigint",
        old_status="''",
        new_status="%(conversion_status)s::text",
        reason="%(conversion_status_reason)s::text",
        created_at="%(conversion_status_changed_at)s::timestamptz",
        callback_owed="n.callback_owed",
        previous_hash="NULL",
    )
    sql = f"""
        WITH new_conversion AS (
            SELECT nextval(pg_get_serial_sequence('conversions_conversion', 'id')) AS id,
                   {owed} AS callback_owed
            FROM callbacks_partner p WHERE p.id = %(conversion_partner_id)s
        ),
        inserted AS (
            INSERT INTO conversions_conversion AS c (id, {columns}, audit_chain_hash)
            VALUES ((SELECT id FROM new_conversion), {placeholders},
                    (SELECT {chain_hash} FROM new_conversion n))
            ON CONFLICT DO NOTHING
            RETURNING c.*
        ),
        first_change AS (
            SELECT {changes_columns} FROM inserted c CROSS JOIN new_conversion n
        ),
        {record_sql}
        SELECT {changes.conversion_id}, (SELECT count(*) FROM deliveries) FROM first_change
    """  # noqa: S608 -- only column names and our own SQL fragments are interpolated
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return False
    conversion.pk, deliveries = row
    if deliveries:
        callback_services.callback_deliveries_dispatch_on_commit()
    return True


def _duplicate_result(*, conversion: Conversion) -> PostbackResult:
    """The conversion already recorded for a repeated postback (same click and event, or the
    same transaction id on the offer), as it is now."""
    same = Q(click_id=conversion.click_id, offer_event_id=conversion.offer_event_id)
    if conversion.transaction_id:
        same |= Q(offer_id=conversion.offer_id, transaction_id=conversion.transaction_id)
    existing = Conversion.objects.filter(same).order_by("pk").values_list("pk", "status").first()
    if existing is None:  # the constraint that refused the row is not one of ours
        raise IntegrityError("Postback refused by a constraint, but no duplicate was found.")
    return PostbackResult(conversion_id=existing[0], status=existing[1], duplicate=True)
