"""Partner callbacks: the outbox rows owed for status changes, and their delivery."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from callbacks.models import CallbackDelivery, Partner, signing_secret_generate

if TYPE_CHECKING:
    from conversions.models import StatusChange

logger = logging.getLogger(__name__)


def partner_wants_callback(*, partner: Partner, status: str) -> bool:
    """Success callbacks are always on; Pending and Rejected ones follow the partner's toggles."""
    if not partner.callback_url:
        return False
    if status == "pending":
        return partner.pending_callbacks_enabled
    if status == "rejected":
        return partner.rejected_callbacks_enabled
    return True


def callback_deliveries_insert_sql(*, status_changes: str) -> str:
    """SQL (PostgreSQL) that inserts the outbox rows owed for a relation of status changes.

    ``status_changes`` names a relation (a CTE) with the columns ``id`` (the StatusChange),
    ``conversion_id``, ``partner_id``, ``new_status``, ``sequence_number`` and ``created_at``.
    The same rule as :func:`partner_wants_callback`, set-based.
    """
    return f"""
        INSERT INTO callbacks_callbackdelivery (
            id, status_change_id, conversion_id, partner_id, sequence_number, state, attempts,
            next_attempt_at, created_at, last_error)
        SELECT gen_random_uuid(), sc.id, sc.conversion_id, sc.partner_id, sc.sequence_number,
               'pending', 0, sc.created_at, sc.created_at, ''
        FROM {status_changes} sc JOIN callbacks_partner p ON p.id = sc.partner_id
        WHERE p.callback_url <> ''
          AND (sc.new_status = 'success'
               OR (sc.new_status = 'pending' AND p.pending_callbacks_enabled)
               OR (sc.new_status = 'rejected' AND p.rejected_callbacks_enabled))
        RETURNING 1
    """  # noqa: S608 -- status_changes is our own CTE name


def callback_deliveries_create(*, status_changes: Sequence[StatusChange]) -> int:
    """Write the outbox rows owed for these (saved) status changes; returns how many.

    Call inside the transaction that made the changes.
    """
    if not status_changes:
        return 0
    from conversions.models import Conversion

    partner_ids = dict(
        Conversion.objects.filter(pk__in={sc.conversion_id for sc in status_changes}).values_list(
            "pk", "partner_id"
        )
    )
    partners = Partner.objects.in_bulk(set(partner_ids.values()))
    deliveries = []
    for change in status_changes:
        partner = partners[partner_ids[change.conversion_id]]
        if partner_wants_callback(partner=partner, status=change.new_status):
            deliveries.append(
                CallbackDelivery(
                    status_change_id=change.pk,
                    conversion_id=change.conversion_id,
                    partner=partner,
                    sequence_number=change.sequence_number,
                    next_attempt_at=change.created_at,
                    created_at=change.created_at,
                )
            )
    CallbackDelivery.objects.bulk_create(deliveries)
    return len(deliveries)


def callback_deliveries_dispatch_on_commit() -> None:
    """Queue delivery of due callbacks once the current transaction commits.

    If the message is lost (broker down, crash before enqueue), the periodic sweep finds the
    outbox rows anyway: a lost message delays a callback, it never loses one.
    """

    def dispatch() -> None:
        from callbacks.tasks import callback_deliveries_dispatch

        try:
            callback_deliveries_dispatch.delay()
        except Exception:  # noqa: BLE001 -- the sweep will pick the rows up
            logger.warning(
                "Could not queue callback dispatch; the sweep will deliver", exc_info=True
            )

    transaction.on_commit(dispatch)


def partner_signing_secret_rotate(
    *, partner: Partner, grace: timedelta = timedelta(hours=24)
) -> str:
    """Give the partner a new signing secret and return it (show it once; it is masked after).

    The old secret keeps signing, alongside the new one, until ``grace`` has passed, so the
    partner can switch its verifier without rejecting callbacks (Standard Webhooks receivers
    accept any of several space-separated signatures).
    """
    new_secret = signing_secret_generate()
    with transaction.atomic():
        locked = Partner.objects.select_for_update().get(pk=partner.pk)
        locked.previous_signing_secret = locked.signing_secret
        locked.previous_signing_secret_expires_at = timezone.now() + grace
        locked.signing_secret = new_secret
        locked.save(
            update_fields=[
                "signing_secret",
                "previous_signing_secret",
                "previous_signing_secret_expires_at",
            ]
        )
    partner.signing_secret = locked.signing_secret
    partner.previous_signing_secret = locked.previous_signing_secret
    partner.previous_signing_secret_expires_at = locked.previous_signing_secret_expires_at
    return new_secret


def callback_deliveries_resend(*, delivery_ids: Iterable[UUID | str], user: Any = None) -> int:
    """Send failed or delivered callbacks again; returns how many were queued.

    Each keeps its id (the partner dedupes on it) and its payload, including its old
    ``sequenceNumber``; it becomes pending, due now, with a fresh retry window, and is queued
    after commit. Pending ones (already on their way) are left alone.
    """
    now = timezone.now()
    with transaction.atomic():
        resent = CallbackDelivery.objects.filter(
            Q(state=CallbackDelivery.State.FAILED) | Q(state=CallbackDelivery.State.DELIVERED),
            pk__in=list(delivery_ids),
        ).update(
            state=CallbackDelivery.State.PENDING,
            next_attempt_at=now,
            lease_expires_at=None,
            retrying_since=None,
        )
        if resent:
            logger.info(
                "%s resent %d callback deliveries", getattr(user, "username", "system"), resent
            )
            callback_deliveries_dispatch_on_commit()
    return resent
