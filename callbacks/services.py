"""Partner callbacks: the rule of which changes owe a callback, the outbox rows it writes,
queueing their delivery, resending and replaying. (Signing secrets: ``callbacks.rotation``;
pausing a partner: ``callbacks.pausing``.)"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from django.db import transaction
from django.db.models import Case, Exists, OuterRef, QuerySet, Value, When
from django.utils import timezone

from callbacks.dispatch import callback_deliveries_dispatch_on_commit
from callbacks.models import CallbackDelivery, Partner
from callbacks.status_change_rows import StatusChangeRows

logger = logging.getLogger(__name__)


def callback_owed_sql(*, partner: str, status: str) -> str:
    """The rule, as an SQL condition: whether ``partner`` (an alias of ``callbacks_partner``)
    is owed a callback for a change to ``status`` (an SQL expression). Success callbacks are
    always on; Pending and Rejected ones follow the partner's toggles; a partner with neither a
    callback URL nor a global postback URL is owed none. (Its event postbacks fire beside
    those: the rule is decided per partner where the change is made, and recorded in the audit
    chain, so an event postback alone could owe a change nothing to send; the admin refuses
    event postbacks without one of the two.)"""
    return f"""(({partner}.callback_url <> '' OR {partner}.postback_url <> '')
        AND ({status} = 'success'
             OR ({status} = 'pending' AND {partner}.pending_callbacks_enabled)
             OR ({status} = 'rejected' AND {partner}.rejected_callbacks_enabled)))"""


def callback_deliveries_insert_sql(*, status_changes: StatusChangeRows) -> str:
    """SQL that inserts the outbox rows owed for a relation of status changes (returning one
    row per delivery written): for each change whose ``callback_owed`` is true (decided with
    :func:`callback_owed_sql` where the change was made, and recorded on its audit row), one
    delivery per kind the partner has: the JSON callback (a callback URL), the global postback
    (a global postback URL) and the event postback (a postback for the conversion's offer
    event). Each delivery is due at once, at its change's time; one owed to a paused partner is
    written held (``callbacks.pausing``)."""
    sc = status_changes
    kind = CallbackDelivery.Kind
    return f"""
        INSERT INTO callbacks_callbackdelivery (
            id, status_change_id, conversion_id, partner_id, kind, sequence_number, state,
            attempts, next_attempt_at, created_at, last_error)
        SELECT gen_random_uuid(), sc.{sc.id}, sc.{sc.conversion_id}, sc.{sc.partner_id},
               k.kind, sc.{sc.sequence_number},
               CASE WHEN p.paused_at IS NULL THEN 'pending' ELSE 'held' END, 0,
               sc.{sc.created_at}, sc.{sc.created_at}, ''
        FROM {sc.relation} sc JOIN callbacks_partner p ON p.id = sc.{sc.partner_id}
        CROSS JOIN LATERAL (
            SELECT '{kind.CALLBACK.value}' AS kind WHERE p.callback_url <> ''
            UNION ALL SELECT '{kind.POSTBACK.value}' WHERE p.postback_url <> ''
            UNION ALL SELECT '{kind.EVENT_POSTBACK.value}' WHERE EXISTS (
                SELECT 1 FROM callbacks_partnereventpostback e
                WHERE e.partner_id = p.id AND e.offer_event_id = sc.{sc.offer_event_id})
        ) k
        WHERE sc.{sc.callback_owed}
        RETURNING 1
    """  # noqa: S608 -- only our own relation and column names are interpolated


def state_when_resent() -> Case:
    """Pending again, or held when the delivery's partner is paused (an UPDATE's value)."""
    paused = Partner.objects.filter(pk=OuterRef("partner_id"), paused_at__isnull=False)
    return Case(
        When(Exists(paused), then=Value(CallbackDelivery.State.HELD)),
        default=Value(CallbackDelivery.State.PENDING),
    )


# Which deliveries can be sent again: failed or delivered ones. Due, retrying and held ones are
# on their way already. The admin's counts, confirmations and button read this rule here.
RESENDABLE_STATES = frozenset({CallbackDelivery.State.FAILED, CallbackDelivery.State.DELIVERED})


def callback_deliveries_resendable(
    deliveries: QuerySet[CallbackDelivery],
) -> QuerySet[CallbackDelivery]:
    """The ones of ``deliveries`` that :func:`callback_deliveries_resend` would send again."""
    return deliveries.filter(state__in=RESENDABLE_STATES)


def callback_deliveries_resend(*, delivery_ids: Iterable[UUID | str], user: Any = None) -> int:
    """Send failed or delivered callbacks again; returns how many were queued.

    Each keeps its id (the partner dedupes on it) and its payload, including its old
    ``statusChangeNumber``; it becomes due now (held, if its partner is paused) with a fresh retry
    window, and is queued after commit. Due, retrying and held ones are left alone.
    """
    now = timezone.now()
    with transaction.atomic():
        resent = callback_deliveries_resendable(
            CallbackDelivery.objects.filter(pk__in=list(delivery_ids))
        ).update(
            state=state_when_resent(),
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
