"""The data of ``bench/callbacks.py``: its partner and conversions, a paused partner's held
backlog, and how to count order violations among what the receiver got."""

from __future__ import annotations

from itertools import zip_longest


def seed(*, count: int, callback_url: str, postback_url: str = "") -> tuple[str, list[int]]:
    """One offer, one partner (callbacks to ``callback_url``), ``count`` Pending conversions;
    with a ``postback_url`` template, half of them belong to a second partner that has only
    that global postback (no JSON callback)."""
    from callbacks.models import Partner
    from conversions.models import Offer, OfferEvent

    offer = Offer.objects.create(
        name="Bench offer", advertiser="Bench", landing_url="https://example.com/{gk_click_id}"
    )
    OfferEvent.objects.create(offer=offer, code="install", name="Install")
    partner = Partner.objects.create(
        name="Bench partner",
        callback_url=callback_url,
        pending_callbacks_enabled=False,
        rejected_callbacks_enabled=True,
    )
    if not postback_url:
        return partner.signing_secret, conversions_seed(partner_id=partner.pk, count=count)
    templated = Partner.objects.create(
        name="Bench postback partner",
        postback_url=postback_url,
        pending_callbacks_enabled=False,
        rejected_callbacks_enabled=True,
    )
    json_ids = conversions_seed(partner_id=partner.pk, count=count - count // 2)
    templated_ids = conversions_seed(partner_id=templated.pk, count=count // 2)
    # Alternated, so the latency phase's single changes go to both partners.
    mixed = [pk for pair in zip_longest(json_ids, templated_ids) for pk in pair if pk is not None]
    return partner.signing_secret, mixed


def conversions_seed(*, partner_id: int, count: int) -> list[int]:
    """``count`` Pending conversions of the bench offer for the partner (set-based SQL)."""
    from django.db import connection

    from conversions.models import OfferEvent

    event = OfferEvent.objects.get(code="install")
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO conversions_click (gk_click_id, offer_id, partner_id, sub_id, created_at)
            SELECT md5(g::text || clock_timestamp()::text), %s, %s, 'user-' || g, now()
            FROM generate_series(1, %s) g
            """,
            [event.offer_id, partner_id, count],
        )
        cursor.execute(
            """
            INSERT INTO conversions_conversion (
                click_id, offer_event_id, offer_id, partner_id, status, status_reason,
                status_source, status_changed_at, status_version, payout, revenue,
                transaction_id, created_at)
            SELECT id, %s, %s, %s, 'pending', '', 'postback', now(), 1, 1.5, 2.0, '', now()
            FROM conversions_click WHERE partner_id = %s
            RETURNING id
            """,
            [event.pk, event.offer_id, partner_id, partner_id],
        )
        ids = sorted(row[0] for row in cursor.fetchall())
        cursor.execute("ANALYZE")
    return ids


def paused_backlog_seed(*, count: int, callback_url: str, secret: str) -> tuple[int, set[str]]:
    """A second partner, paused, owed ``count`` held callbacks (``count / 2`` conversions set
    to Success, then Rejected); returns its id and the held deliveries' ids."""
    from callbacks.models import CallbackDelivery, Partner
    from callbacks.pausing import partner_pause
    from conversions.models import Source, Status
    from conversions.services import conversion_status_set

    partner = Partner.objects.create(
        name="Paused partner", callback_url=callback_url, signing_secret=secret
    )
    partner_pause(partner_id=partner.pk, reason="bench: paused backlog")
    ids = conversions_seed(partner_id=partner.pk, count=count // 2)
    for status in (Status.SUCCESS, Status.REJECTED):
        conversion_status_set(conversion_ids=ids, status=status, source=Source.ADMIN)
    held = CallbackDelivery.objects.filter(partner=partner, state=CallbackDelivery.State.HELD)
    return partner.pk, {str(pk) for pk in held.values_list("pk", flat=True)}


def order_violations(records: list, delivery_ids: set[str]) -> int:
    """Conversions among ``delivery_ids`` whose callbacks first arrived out of sequence."""
    first: dict[str, tuple[int, int, float]] = {}
    for delivery_id, conversion_id, sequence, arrived in records:
        if delivery_id in delivery_ids and delivery_id not in first:
            first[delivery_id] = (conversion_id, sequence, arrived)
    arrivals: dict[int, list[tuple[float, int]]] = {}
    for conversion_id, sequence, arrived in first.values():
        arrivals.setdefault(conversion_id, []).append((arrived, sequence))
    return sum(
        1
        for received in arrivals.values()
        if [sequence for _, sequence in sorted(received)] != sorted(s for _, s in received)
    )
