"""The outbox's bookkeeping: claiming due callback deliveries under a lease, and recording
what each attempt ended in.

1. **Claim** (:func:`callback_deliveries_claim`) up to a batch of due deliveries in a short
   transaction (``SELECT … FOR UPDATE SKIP LOCKED``, so concurrent workers never wait for or take
   each other's rows) and put a lease on them: ``lease_expires_at`` and ``next_attempt_at`` move
   to the end of the lease. A worker that dies mid-batch leaves them due again when the lease
   ends, and the sweep (or any dispatch) sends them: at least once, never lost. A delivery is
   only claimed when no earlier delivery of the same conversion and kind (lower
   ``sequence_number``) is still pending or held, so a conversion's callbacks of each kind (the
   JSON callback, the global postback, the event postback) go out one at a time in the order
   of its changes; the kinds do not wait for each other (a partner's slow postback endpoint
   does not hold its JSON callbacks back). Held deliveries (a paused partner,
   ``callbacks.pausing``) are never claimed.
2. **Record** (:func:`callback_deliveries_record`) every outcome of a batch in one short
   transaction, only where the lease is still ours, and one ``CallbackAttempt`` per try.

Sending itself (one HTTP attempt and the retry policy) is ``callbacks.sending``; the loop that
ties the two together is ``callbacks.delivery``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from callbacks.models import CallbackAttempt, CallbackDelivery
from callbacks.payloads import callback_payloads_render

PENDING = CallbackDelivery.State.PENDING
DELIVERED = CallbackDelivery.State.DELIVERED
FAILED = CallbackDelivery.State.FAILED
HELD = CallbackDelivery.State.HELD


@dataclass
class ClaimedDelivery:
    id: UUID
    partner_id: int
    kind: str  # CallbackDelivery.Kind
    attempts: int  # including this one
    payload: dict[str, Any] | None
    retrying_since: datetime | None
    lease_expires_at: datetime  # this claim's lease: outcomes are recorded only under it
    payload_is_new: bool = False


@dataclass
class Outcome:
    """What one attempt ended in, and what becomes of the delivery."""

    delivery: ClaimedDelivery
    state: str
    started_at: datetime | None = None  # None: handed back unsent, no attempt made
    url: str = ""  # where the attempt was sent
    duration_ms: int | None = None
    response_status: int | None = None
    response_body: str = ""
    error: str = ""
    next_attempt_at: datetime | None = None
    retrying_since: datetime | None = None
    delivered_at: datetime | None = None


def send_budget_seconds() -> float:
    """The longest one send may take: its deadline (``CALLBACK_ATTEMPT_DEADLINE_SECONDS``, over
    connecting and reading the whole answer), plus a margin for resolving the host and for
    signing. (The connect and read timeouts do not bound a send: a body trickling a byte per
    read never lets a read time out.)"""
    return settings.CALLBACK_ATTEMPT_DEADLINE_SECONDS + 1.0


def _lease_seconds() -> float:
    """``CALLBACK_LEASE_SECONDS``, but always room for at least two sends: a lease never runs
    out under a send, whatever the settings."""
    return max(float(settings.CALLBACK_LEASE_SECONDS), 2 * send_budget_seconds())


# A claim is an index range scan of well under a millisecond, as long as PostgreSQL knows the
# outbox's size. Right after a bulk change has written 100,000 rows its statistics still
# describe a nearly empty table, the planner sorts the whole backlog for every claim (tens of
# milliseconds, then seconds), and autovacuum's ANALYZE can be a minute away; so a slow full
# claim refreshes them (at most once a minute per worker process).
_SLOW_CLAIM_SECONDS = 0.02
_STATISTICS_REFRESH_EVERY = 60.0
_statistics_refreshed_at = -_STATISTICS_REFRESH_EVERY


def _statistics_refresh() -> None:
    global _statistics_refreshed_at
    if time.monotonic() - _statistics_refreshed_at < _STATISTICS_REFRESH_EVERY:
        return
    _statistics_refreshed_at = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE callbacks_callbackdelivery")


def callback_deliveries_claim(*, limit: int) -> list[ClaimedDelivery]:
    """Lease up to ``limit`` due deliveries, each the earliest pending one of its conversion
    and kind."""
    now = timezone.now()
    lease_end = now + timedelta(seconds=_lease_seconds())
    earlier_pending = CallbackDelivery.objects.filter(
        conversion_id=OuterRef("conversion_id"),
        kind=OuterRef("kind"),
        sequence_number__lt=OuterRef("sequence_number"),
        state__in=[PENDING, HELD],
    )
    clock = time.monotonic()
    with transaction.atomic():
        ids = list(
            CallbackDelivery.objects.select_for_update(skip_locked=True)
            .filter(state=PENDING, next_attempt_at__lte=now)
            .exclude(Exists(earlier_pending))
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return []
        CallbackDelivery.objects.filter(pk__in=ids).update(
            lease_expires_at=lease_end, next_attempt_at=lease_end, attempts=F("attempts") + 1
        )
        rows = CallbackDelivery.objects.filter(pk__in=ids).values_list(
            "pk", "partner_id", "kind", "attempts", "payload", "retrying_since", "lease_expires_at"
        )
        claimed = [
            ClaimedDelivery(
                id=pk,
                partner_id=partner_id,
                kind=kind,
                attempts=attempts,
                payload=payload,
                retrying_since=retrying_since,
                lease_expires_at=lease_end if lease is None else lease,
            )
            for pk, partner_id, kind, attempts, payload, retrying_since, lease in rows
        ]
    if len(claimed) >= limit and time.monotonic() - clock > _SLOW_CLAIM_SECONDS:
        _statistics_refresh()
    missing = [delivery.id for delivery in claimed if delivery.payload is None]
    if missing:
        payloads = callback_payloads_render(delivery_ids=missing)
        for delivery in claimed:
            if delivery.payload is None:
                delivery.payload = payloads[delivery.id]
                delivery.payload_is_new = True
    return claimed


def callback_deliveries_record(outcomes: list[Outcome]) -> None:
    """Store the outcomes of one batch in one transaction (only where the lease is still ours:
    a delivery re-claimed after its lease ran out belongs to the newer claim)."""
    if not outcomes:
        return
    attempts = [
        CallbackAttempt(
            delivery_id=outcome.delivery.id,
            partner_id=outcome.delivery.partner_id,
            number=outcome.delivery.attempts,
            started_at=outcome.started_at,
            outcome=_attempt_outcome(outcome.state),
            url=outcome.url,
            duration_ms=outcome.duration_ms,
            response_status=outcome.response_status,
            response_body=outcome.response_body,
            error=outcome.error,
        )
        for outcome in outcomes
        if outcome.started_at is not None
    ]
    with transaction.atomic():
        _outcomes_write(outcomes)
        CallbackAttempt.objects.bulk_create(attempts)


def _attempt_outcome(state: str) -> str:
    if state == DELIVERED:
        return CallbackAttempt.Outcome.DELIVERED
    if state == FAILED:
        return CallbackAttempt.Outcome.FAILED
    return CallbackAttempt.Outcome.RETRY


def _outcome_values(outcome: Outcome) -> dict[str, Any]:
    """The delivery's new column values for an outcome."""
    if outcome.started_at is None:  # handed back unsent: due now (or held), not counted
        return {
            "state": outcome.state,
            "next_attempt_at": timezone.now(),
            "attempts_made": 0,
        }
    values: dict[str, Any] = {
        "state": outcome.state,
        "attempts_made": 1,
        "last_response_status": outcome.response_status,
        "last_error": outcome.error,
    }
    if outcome.state == PENDING:
        values["next_attempt_at"] = outcome.next_attempt_at
        values["retrying_since"] = outcome.retrying_since
    else:
        values["retrying_since"] = None
        values["delivered_at"] = outcome.delivered_at
    return values


# A delivery paused while its send was under way stays held (a retry waits for the resume);
# a delivered or failed outcome is recorded as usual.
_RECORD_SQL = """
    UPDATE callbacks_callbackdelivery d
    SET state = CASE WHEN d.state = 'held' AND v.state = 'pending' THEN 'held' ELSE v.state END,
        lease_expires_at = NULL,
        attempts = d.attempts - 1 + v.attempts_made,
        next_attempt_at = COALESCE(v.next_attempt_at, d.next_attempt_at),
        retrying_since = CASE WHEN v.attempts_made = 0 THEN d.retrying_since
                              ELSE v.retrying_since END,
        last_response_status = CASE WHEN v.attempts_made = 0 THEN d.last_response_status
                                    ELSE v.last_response_status END,
        last_error = CASE WHEN v.attempts_made = 0 THEN d.last_error ELSE v.last_error END,
        delivered_at = COALESCE(v.delivered_at, d.delivered_at),
        payload = COALESCE(d.payload, v.payload::jsonb)
    FROM unnest(%s::uuid[], %s::timestamptz[], %s::varchar[], %s::int[], %s::timestamptz[],
                %s::timestamptz[], %s::int[], %s::text[], %s::timestamptz[], %s::text[])
         AS v(id, lease_expires_at, state, attempts_made, next_attempt_at, retrying_since,
              last_response_status, last_error, delivered_at, payload)
    WHERE d.id = v.id AND d.lease_expires_at = v.lease_expires_at
      AND d.state IN ('pending', 'held')
"""


def _outcomes_write(outcomes: list[Outcome]) -> None:
    columns: list[list[Any]] = [[] for _ in range(10)]
    for outcome in outcomes:
        values = _outcome_values(outcome)
        delivery = outcome.delivery
        row = [
            delivery.id,
            delivery.lease_expires_at,
            values["state"],
            values["attempts_made"],
            values.get("next_attempt_at"),
            values.get("retrying_since"),
            values.get("last_response_status"),
            values.get("last_error", ""),
            values.get("delivered_at"),
            json.dumps(delivery.payload) if delivery.payload_is_new else None,
        ]
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    with connection.cursor() as cursor:
        cursor.execute(_RECORD_SQL, columns)
