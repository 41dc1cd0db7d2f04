"""Sending callbacks: claim due deliveries, POST them, record what the partner answered.

The loop (:func:`callback_deliveries_deliver_due`, run by the dispatch task after each commit
that owes callbacks, and by the periodic sweep):

1. **Claim** up to ``CALLBACK_CLAIM_BATCH`` due deliveries in a short transaction
   (``SELECT … FOR UPDATE SKIP LOCKED``, so concurrent workers never wait for or take each
   other's rows) and put a lease on them: ``lease_expires_at`` and ``next_attempt_at`` move to
   the end of the lease. A worker that dies mid-batch leaves them due again when the lease ends,
   and the sweep (or any dispatch) sends them: at least once, never lost.
2. **Send** each one outside any transaction, over a keep-alive session per partner, through
   the SSRF guard (``callbacks.network``), signed (``callbacks.signing``). No send starts that
   could outlive the lease; the rest of the batch is handed back.
3. **Record** every outcome in one short transaction, only where the lease is still ours, and
   one ``CallbackAttempt`` per try (status, latency, first 2 kB of the body or the error).

Outcomes: any 2xx is Delivered. 5xx, 408, 429, a timeout or a connection error is retried: after
``CALLBACK_RETRY_FIRST_DELAY`` (2 minutes), then each wait is the time already spent retrying
plus the first delay (so it doubles: 2, 4, 8, 16 … minutes, capped at
``CALLBACK_RETRY_MAX_DELAY``), times a random factor between 0.75 and 1.25 so that a partner's
outage does not end in a thundering herd; a ``Retry-After`` (seconds or an HTTP date) replaces
the computed wait, up to ``CALLBACK_RETRY_AFTER_MAX``. After ``CALLBACK_RETRY_FOR`` (3 days) of
failures the delivery is Failed. Other 4xx, 3xx (redirects are never followed), a refused
address and a missing or unusable URL fail at once. Waits live in ``next_attempt_at``, never in
a broker countdown.

Ordering: a delivery is only claimed when no earlier delivery of the same conversion (lower
``sequence_number``) is still pending, so a conversion's callbacks go out one at a time in the
order of its changes, and a Rejected never overtakes the Success it revokes. When an earlier one
ends Failed, the later ones proceed (a partner that missed one orders by ``sequenceNumber``; a
Failed one resent later carries its old, lower ``sequenceNumber``, so the receiver can tell it
is not the latest). A resent one that is pending again holds back the conversion's newer
pending ones until it is settled.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import requests
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from callbacks.models import CallbackAttempt, CallbackDelivery, Partner
from callbacks.network import CallbackAddressRefused, callback_session
from callbacks.payloads import callback_body, callback_payloads_render
from callbacks.signing import callback_headers_sign

logger = logging.getLogger(__name__)

# Response body kept per attempt, and the most read to keep a connection reusable.
RESPONSE_EXCERPT_BYTES = 2048
_RESPONSE_READ_LIMIT = 64 * 1024

PENDING = CallbackDelivery.State.PENDING
DELIVERED = CallbackDelivery.State.DELIVERED
FAILED = CallbackDelivery.State.FAILED

# One keep-alive session per partner, per worker process.
_sessions: dict[int, requests.Session] = {}


@dataclass
class ClaimedDelivery:
    id: UUID
    partner_id: int
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
    duration_ms: int | None = None
    response_status: int | None = None
    response_body: str = ""
    error: str = ""
    next_attempt_at: datetime | None = None
    retrying_since: datetime | None = None
    delivered_at: datetime | None = None


def callback_deliveries_deliver_due(*, spread: bool = True) -> int:
    """Claim and send due deliveries until none is left; returns how many attempts were made.

    With ``spread``, a full first batch queues one more dispatch task, so that a backlog (a bulk
    import's thousands of callbacks) is drained by every free worker, not one. After
    ``CALLBACK_DISPATCH_MAX_SECONDS`` the loop hands over to a fresh task.
    """
    started = time.monotonic()
    attempts = 0
    first = True
    while True:
        claimed = callback_deliveries_claim(limit=settings.CALLBACK_CLAIM_BATCH)
        if not claimed:
            return attempts
        full = len(claimed) >= settings.CALLBACK_CLAIM_BATCH
        if spread and first and full:
            _dispatch_queue()
        first = False
        outcomes = callback_deliveries_send(claimed)
        callback_deliveries_record(outcomes)
        attempts += sum(1 for outcome in outcomes if outcome.started_at is not None)
        if full and time.monotonic() - started > settings.CALLBACK_DISPATCH_MAX_SECONDS:
            _dispatch_queue()
            return attempts


def _dispatch_queue() -> None:
    from callbacks.tasks import callback_deliveries_dispatch

    try:
        callback_deliveries_dispatch.delay()
    except Exception:  # noqa: BLE001 -- the sweep picks the rest up
        logger.warning("Could not queue another callback dispatch", exc_info=True)


def _send_budget_seconds() -> float:
    """The longest one send may take (connect, then read), plus a margin."""
    return settings.CALLBACK_CONNECT_TIMEOUT + settings.CALLBACK_READ_TIMEOUT + 0.5


def _lease_seconds() -> float:
    """``CALLBACK_LEASE_SECONDS``, but always room for at least two sends."""
    return max(float(settings.CALLBACK_LEASE_SECONDS), 2 * _send_budget_seconds())


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
    if connection.vendor != "postgresql":
        return
    if time.monotonic() - _statistics_refreshed_at < _STATISTICS_REFRESH_EVERY:
        return
    _statistics_refreshed_at = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE callbacks_callbackdelivery")


def callback_deliveries_claim(*, limit: int) -> list[ClaimedDelivery]:
    """Lease up to ``limit`` due deliveries, each the earliest pending one of its conversion."""
    now = timezone.now()
    lease_end = now + timedelta(seconds=_lease_seconds())
    earlier_pending = CallbackDelivery.objects.filter(
        conversion_id=OuterRef("conversion_id"),
        sequence_number__lt=OuterRef("sequence_number"),
        state=PENDING,
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
            "pk", "partner_id", "attempts", "payload", "retrying_since", "lease_expires_at"
        )
        claimed = [
            ClaimedDelivery(
                id=pk,
                partner_id=partner_id,
                attempts=attempts,
                payload=payload,
                retrying_since=retrying_since,
                lease_expires_at=lease_end if lease is None else lease,
            )
            for pk, partner_id, attempts, payload, retrying_since, lease in rows
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


def callback_deliveries_send(claimed: list[ClaimedDelivery]) -> list[Outcome]:
    """Send each claimed delivery (no transaction is open); returns one outcome per delivery."""
    budget = timedelta(seconds=_send_budget_seconds())
    partners = Partner.objects.in_bulk({delivery.partner_id for delivery in claimed})
    outcomes: list[Outcome] = []
    for delivery in sorted(claimed, key=lambda d: d.partner_id):
        if outcomes and timezone.now() + budget > delivery.lease_expires_at:
            outcomes.append(Outcome(delivery=delivery, state=PENDING))  # handed back
            continue
        outcomes.append(_send_one(delivery, partners[delivery.partner_id]))
    return outcomes


def _send_one(delivery: ClaimedDelivery, partner: Partner) -> Outcome:
    started_at = timezone.now()
    if not partner.callback_url:
        return _failed(delivery, started_at, error="The partner has no callback URL.")
    assert delivery.payload is not None
    body = callback_body(payload=delivery.payload, sent_at=started_at)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GoKart-Callbacks/1.0",
        **callback_headers_sign(
            delivery_id=str(delivery.id), body=body, partner=partner, now=started_at
        ),
    }
    session = _sessions.get(partner.pk)
    if session is None:
        session = _sessions[partner.pk] = callback_session()
    clock = time.monotonic()
    try:
        response = session.post(
            partner.callback_url,
            data=body.encode(),
            headers=headers,
            timeout=(settings.CALLBACK_CONNECT_TIMEOUT, settings.CALLBACK_READ_TIMEOUT),
            allow_redirects=False,
            stream=True,
        )
        try:
            excerpt = _response_excerpt(response)
        finally:
            response.close()
    except CallbackAddressRefused as error:
        return _failed(delivery, started_at, error=str(error), clock=clock)
    except requests.Timeout as error:
        kind = "connect" if isinstance(error, requests.ConnectTimeout) else "read"
        timeout = (
            settings.CALLBACK_CONNECT_TIMEOUT
            if kind == "connect"
            else settings.CALLBACK_READ_TIMEOUT
        )
        return _retry(
            delivery, started_at, error=f"Timed out ({kind} timeout {timeout:g} s).", clock=clock
        )
    except requests.ConnectionError as error:
        return _retry(
            delivery, started_at, error=f"Connection error: {_reason(error)}", clock=clock
        )
    except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema) as error:
        return _failed(delivery, started_at, error=f"Unusable callback URL: {error}", clock=clock)
    except requests.RequestException as error:
        return _retry(delivery, started_at, error=f"Request failed: {error}", clock=clock)
    except Exception as error:  # noqa: BLE001 -- never lose a callback to an unexpected error
        logger.exception("Unexpected error sending callback %s", delivery.id)
        return _retry(delivery, started_at, error=f"Unexpected error: {error!r}", clock=clock)
    duration_ms = _elapsed_ms(clock)
    code = response.status_code
    answered: dict[str, Any] = {
        "response_status": code,
        "response_body": excerpt,
        "duration_ms": duration_ms,
    }
    if 200 <= code < 300:
        return Outcome(
            delivery=delivery,
            state=DELIVERED,
            started_at=started_at,
            delivered_at=timezone.now(),
            **answered,
        )
    if code in (408, 429) or code >= 500:
        retry_after = _retry_after_seconds(response.headers.get("Retry-After"), now=started_at)
        return _retry(
            delivery,
            started_at,
            error=f"HTTP {code} from the partner.",
            retry_after=retry_after,
            **answered,
        )
    if 300 <= code < 400:
        location = response.headers.get("Location", "")
        message = (
            f"HTTP {code} redirect to {location or '(no location)'}: redirects are not followed."
        )
    else:
        message = f"HTTP {code} from the partner: not retried."
    return _failed(delivery, started_at, error=message, **answered)


def _reason(error: Exception) -> str:
    # requests wraps urllib3's MaxRetryError; the innermost reason reads best.
    reason: Any = error.args[0] if error.args else error
    reason = getattr(reason, "reason", reason)
    return str(reason)


def _elapsed_ms(clock: float) -> int:
    return int((time.monotonic() - clock) * 1000)


def _response_excerpt(response: requests.Response) -> str:
    """The first 2 kB of the body; the rest is read (up to a limit) so the connection can be
    reused, or the connection is dropped."""
    received = bytearray()
    for chunk in response.iter_content(chunk_size=8192):
        if len(received) < RESPONSE_EXCERPT_BYTES:
            received += chunk
        if len(received) > _RESPONSE_READ_LIMIT:
            break
    return bytes(received[:RESPONSE_EXCERPT_BYTES]).decode("utf-8", errors="replace")


def _retry_after_seconds(value: str | None, *, now: datetime) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; None if absent or
    unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())


def _failed(
    delivery: ClaimedDelivery,
    started_at: datetime,
    *,
    error: str,
    clock: float | None = None,
    **answered: Any,
) -> Outcome:
    if clock is not None and "duration_ms" not in answered:
        answered["duration_ms"] = _elapsed_ms(clock)
    return Outcome(delivery=delivery, state=FAILED, started_at=started_at, error=error, **answered)


def _retry(
    delivery: ClaimedDelivery,
    started_at: datetime,
    *,
    error: str,
    retry_after: float | None = None,
    clock: float | None = None,
    **answered: Any,
) -> Outcome:
    """Schedule the next attempt, or fail the delivery once its retry window is over."""
    if clock is not None and "duration_ms" not in answered:
        answered["duration_ms"] = _elapsed_ms(clock)
    retrying_since = delivery.retrying_since or started_at
    deadline = retrying_since + timedelta(seconds=settings.CALLBACK_RETRY_FOR)
    if started_at >= deadline:
        days = settings.CALLBACK_RETRY_FOR / 86400
        return Outcome(
            delivery=delivery,
            state=FAILED,
            started_at=started_at,
            error=f"{error} Gave up after {delivery.attempts} attempts over {days:g} days.",
            **answered,
        )
    if retry_after is not None:
        delay = min(retry_after, settings.CALLBACK_RETRY_AFTER_MAX)
    else:
        delay = retry_delay_seconds(retrying_for=(started_at - retrying_since).total_seconds())
    next_attempt_at = min(started_at + timedelta(seconds=delay), deadline)
    return Outcome(
        delivery=delivery,
        state=PENDING,
        started_at=started_at,
        error=error,
        next_attempt_at=next_attempt_at,
        retrying_since=retrying_since,
        **answered,
    )


def retry_delay_seconds(*, retrying_for: float) -> float:
    """The wait before the next attempt, given how long the delivery has been failing.

    ``first delay + time already spent``: 2, 4, 8, 16 … minutes (each wait about doubles the
    last), capped, and jittered by ±25 %. Because each wait is derived from the jittered waits
    before it, partners' retries spread out rather than arriving in step.
    """
    base = min(
        settings.CALLBACK_RETRY_FIRST_DELAY + max(0.0, retrying_for),
        settings.CALLBACK_RETRY_MAX_DELAY,
    )
    return base * random.uniform(0.75, 1.25)


def callback_deliveries_record(outcomes: list[Outcome]) -> None:
    """Store the outcomes of one batch in one transaction (only where the lease is still ours:
    a delivery re-claimed after its lease ran out belongs to the newer claim)."""
    if not outcomes:
        return
    attempts = [
        CallbackAttempt(
            delivery_id=outcome.delivery.id,
            number=outcome.delivery.attempts,
            started_at=outcome.started_at,
            duration_ms=outcome.duration_ms,
            response_status=outcome.response_status,
            response_body=outcome.response_body,
            error=outcome.error,
        )
        for outcome in outcomes
        if outcome.started_at is not None
    ]
    with transaction.atomic():
        if connection.vendor == "postgresql":
            _record_postgresql(outcomes)
        else:
            _record_orm(outcomes)
        CallbackAttempt.objects.bulk_create(attempts)


def _outcome_values(outcome: Outcome) -> dict[str, Any]:
    """The delivery's new column values for an outcome."""
    if outcome.started_at is None:  # handed back unsent: due now, the attempt not counted
        return {
            "state": PENDING,
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


_RECORD_SQL = """
    UPDATE callbacks_callbackdelivery d
    SET state = v.state,
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
    WHERE d.id = v.id AND d.lease_expires_at = v.lease_expires_at AND d.state = 'pending'
"""


def _record_postgresql(outcomes: list[Outcome]) -> None:
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


def _record_orm(outcomes: list[Outcome]) -> None:
    for outcome in outcomes:
        values = _outcome_values(outcome)
        attempts_made = values.pop("attempts_made")
        if attempts_made == 0:
            values = {"next_attempt_at": values["next_attempt_at"]}
        if outcome.delivery.payload_is_new:
            values["payload"] = outcome.delivery.payload
        CallbackDelivery.objects.filter(
            pk=outcome.delivery.id,
            state=PENDING,
            lease_expires_at=outcome.delivery.lease_expires_at,
        ).update(lease_expires_at=None, attempts=F("attempts") - 1 + attempts_made, **values)
