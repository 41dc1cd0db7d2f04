"""Partner callbacks: the outbox rows owed for status changes, and their delivery."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from django.db import transaction

from callbacks.models import CallbackDelivery, Partner

if TYPE_CHECKING:
    from conversions.models import StatusChange


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
            import logging

            logging.getLogger(__name__).warning(
                "Could not queue callback dispatch; the sweep will deliver", exc_info=True
            )

    transaction.on_commit(dispatch)
