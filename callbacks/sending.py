"""Sending callbacks: one HTTP attempt per claimed delivery, and the retry policy.

Each delivery is sent outside any transaction, over a keep-alive session per partner, through
the SSRF guard (``callbacks.network``). A JSON callback is a POST to the partner's callback
URL, signed (``callbacks.signing``); a templated postback is a GET of its filled URL
(``callbacks.payloads``) with no body and no signature (there is no body to sign, and the
receivers of templated postbacks, trackers' postback endpoints, authenticate by a token in the
URL or a header). Both carry the partner's static header when it has one (a name of its
choosing and a secret value, never logged). No send starts that could outlive the claim's
lease; the rest of the batch is handed back. Postbacks share the outcomes, retries, pausing
and health below with the JSON callbacks: a delivery is a delivery.

One attempt has one deadline, ``CALLBACK_ATTEMPT_DEADLINE_SECONDS`` (15 s), over connecting,
the headers and the body together (``callbacks.network``): the connect and read timeouts bound
each step within it, but alone they never end a body that keeps coming (streamed for ever, or a
byte every 9 s against a 10 s read timeout). At most 1 MB of an answer is read; a body that
goes on past it is not read to its end. So no attempt holds a worker longer than the deadline,
and the claim's lease (``callbacks.outbox``) is derived from it.

Outcomes: any 2xx read to its end is Delivered. 5xx, 408, 429, a timeout, a connection error,
no complete answer within the deadline, or a body over the limit is retried: after
``CALLBACK_RETRY_FIRST_DELAY`` (2 minutes), then each wait is the time already spent retrying
plus the first delay (so it doubles: 2, 4, 8, 16 … minutes, capped at
``CALLBACK_RETRY_MAX_DELAY``), times a random factor between 0.75 and 1.25 so that a partner's
outage does not end in a thundering herd; a ``Retry-After`` (seconds or an HTTP date) replaces
the computed wait, up to ``CALLBACK_RETRY_AFTER_MAX``. After ``CALLBACK_RETRY_FOR`` (3 days) of
failures the delivery is Failed. Other 4xx, 3xx (redirects are never followed), a refused
address and a missing or unusable URL fail at once. Waits live in ``next_attempt_at``, never in
a broker countdown. Every attempt keeps its status, latency and the first 2 kB of the answer
(what was read of it, when it did not end).
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from django.conf import settings
from django.db.models import Prefetch
from django.utils import timezone

from callbacks.models import CallbackDelivery, Partner, PartnerSigningSecret
from callbacks.network import CallbackAddressRefused, attempt_deadline, callback_session
from callbacks.outbox import (
    DELIVERED,
    FAILED,
    HELD,
    PENDING,
    ClaimedDelivery,
    Outcome,
    send_budget_seconds,
)
from callbacks.payloads import callback_body
from callbacks.send_errors import attempt_error_describe
from callbacks.signing import callback_headers_sign

logger = logging.getLogger(__name__)

# Response body kept per attempt, and the most read of an answer: a callback's answer is an
# acknowledgement, and reading more would only let a partner keep a worker busy.
RESPONSE_EXCERPT_BYTES = 2048
_RESPONSE_READ_LIMIT = 1024 * 1024

# One keep-alive session per partner, per worker process.
_sessions: dict[int, requests.Session] = {}


def partners_for_sending(partner_ids: set[int]) -> dict[int, Partner]:
    """The partners of a batch, with the replaced secrets that still sign (two queries)."""
    signing = PartnerSigningSecret.objects.filter(expires_at__gt=timezone.now())
    return {
        partner.pk: partner
        for partner in Partner.objects.filter(pk__in=partner_ids).prefetch_related(
            Prefetch("previous_secrets", queryset=signing)
        )
    }


def callback_deliveries_send(
    claimed: list[ClaimedDelivery], *, partners: dict[int, Partner]
) -> list[Outcome]:
    """Send each claimed delivery (no transaction is open); returns one outcome per delivery.

    A delivery of a paused partner is handed back held, unsent."""
    budget = timedelta(seconds=send_budget_seconds())
    outcomes: list[Outcome] = []
    for delivery in sorted(claimed, key=lambda d: d.partner_id):
        partner = partners[delivery.partner_id]
        if partner.paused_at is not None:
            outcomes.append(Outcome(delivery=delivery, state=HELD))  # handed back, held
            continue
        if outcomes and timezone.now() + budget > delivery.lease_expires_at:
            outcomes.append(Outcome(delivery=delivery, state=PENDING))  # handed back
            continue
        outcomes.append(_send_one(delivery, partner))
    return outcomes


_USER_AGENT = "GoKart-Callbacks/1.0"


def partner_static_header(partner: Partner) -> dict[str, str]:
    """The partner's static header (name and secret value), if it has one."""
    if partner.static_header_name and partner.static_header_value:
        return {partner.static_header_name: partner.static_header_value}
    return {}


def callback_request_build(
    *, delivery_id: str, payload: dict[str, Any], partner: Partner, sent_at: datetime
) -> tuple[str, dict[str, str]]:
    """The body and headers of one attempt: the payload with ``sentAt``, signed, and the
    partner's static header."""
    body = callback_body(payload=payload, sent_at=sent_at)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": _USER_AGENT,
        **partner_static_header(partner),
        **callback_headers_sign(delivery_id=delivery_id, body=body, partner=partner, now=sent_at),
    }
    return body, headers


def postback_headers(partner: Partner) -> dict[str, str]:
    """The headers of a templated postback's GET: no signature, the static header."""
    return {"User-Agent": _USER_AGENT, **partner_static_header(partner)}


@dataclass
class Answer:
    """What one POST got: an HTTP answer, or the readable reason there was none."""

    status: int | None = None
    body: str = ""
    headers: dict[str, str] | None = None
    duration_ms: int | None = None
    error: str = ""
    refused: bool = False  # the address or URL may not be used: not worth retrying


def partner_request_send(
    *, partner: Partner, url: str, headers: dict[str, str], body: str | None = None
) -> Answer:
    """POST ``body`` to ``url`` (a GET when there is no body) through the SSRF guard, on the
    partner's keep-alive session; never raises.

    Returns within ``CALLBACK_ATTEMPT_DEADLINE_SECONDS`` (name resolution aside): an answer
    not complete by then, or whose body goes on past ``_RESPONSE_READ_LIMIT``, comes back as an
    error with no status, worth retrying."""
    session = _sessions.get(partner.pk)
    if session is None:
        session = _sessions[partner.pk] = callback_session()
    clock = time.monotonic()
    status: int | None = None
    read = _Read()
    with attempt_deadline(settings.CALLBACK_ATTEMPT_DEADLINE_SECONDS) as deadline:
        try:
            response = session.request(
                "GET" if body is None else "POST",
                url,
                data=None if body is None else body.encode(),
                headers=headers,
                timeout=(settings.CALLBACK_CONNECT_TIMEOUT, settings.CALLBACK_READ_TIMEOUT),
                allow_redirects=False,
                stream=True,
            )
            try:
                status = response.status_code
                _response_read(response, into=read)
            finally:
                response.close()
        except CallbackAddressRefused as error:
            return Answer(error=str(error), refused=True, duration_ms=_elapsed_ms(clock))
        except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema) as error:
            message = f"Unusable callback URL: {error}"
            return Answer(error=message, refused=True, duration_ms=_elapsed_ms(clock))
        except requests.RequestException as error:
            message = attempt_error_describe(error, url=url, deadline=deadline, status=status)
            return Answer(error=message, body=read.excerpt(), duration_ms=_elapsed_ms(clock))
        except Exception as error:  # noqa: BLE001 -- never lose a callback to an unexpected error
            logger.exception("Unexpected error sending a callback to %s", url)
            message = f"Unexpected error sending to {url} ({type(error).__name__}): see the log."
            return Answer(error=message, duration_ms=_elapsed_ms(clock))
    if read.cut:
        limit_mb = _RESPONSE_READ_LIMIT // (1024 * 1024)
        message = f"HTTP {status} answer longer than {limit_mb} MB: not read to its end."
        return Answer(error=message, body=read.excerpt(), duration_ms=_elapsed_ms(clock))
    return Answer(
        status=status,
        body=read.excerpt(),
        headers=dict(response.headers),
        duration_ms=_elapsed_ms(clock),
    )


_NO_URL = {
    CallbackDelivery.Kind.CALLBACK: "The partner has no callback URL.",
    CallbackDelivery.Kind.POSTBACK: "The partner has no global postback URL.",
    CallbackDelivery.Kind.EVENT_POSTBACK: "The partner has no postback for this offer event.",
}


def _request(
    delivery: ClaimedDelivery, partner: Partner, sent_at: datetime
) -> tuple[str, str | None, dict[str, str]] | None:
    """The URL, body (None: a GET) and headers of one attempt; None when there is no URL."""
    assert delivery.payload is not None
    if delivery.kind != CallbackDelivery.Kind.CALLBACK:
        url = delivery.payload.get("url") or ""
        return (url, None, postback_headers(partner)) if url else None
    if not partner.callback_url:
        return None
    body, headers = callback_request_build(
        delivery_id=str(delivery.id), payload=delivery.payload, partner=partner, sent_at=sent_at
    )
    return partner.callback_url, body, headers


def _send_one(delivery: ClaimedDelivery, partner: Partner) -> Outcome:
    started_at = timezone.now()
    request = _request(delivery, partner, started_at)
    if request is None:
        return _failed(delivery, started_at, error=_NO_URL[CallbackDelivery.Kind(delivery.kind)])
    url, body, headers = request
    answer = partner_request_send(partner=partner, url=url, body=body, headers=headers)
    if answer.status is None:
        if answer.refused:
            return _failed(
                delivery, started_at, error=answer.error, duration_ms=answer.duration_ms, url=url
            )
        return _retry(
            delivery,
            started_at,
            error=answer.error,
            response_body=answer.body,  # what was read of an answer that did not end
            duration_ms=answer.duration_ms,
            url=url,
        )
    code = answer.status
    answered: dict[str, Any] = {
        "response_status": code,
        "response_body": answer.body,
        "duration_ms": answer.duration_ms,
        "url": url,
    }
    response_headers = answer.headers or {}
    if 200 <= code < 300:
        return Outcome(
            delivery=delivery,
            state=DELIVERED,
            started_at=started_at,
            delivered_at=timezone.now(),
            **answered,
        )
    if code in (408, 429) or code >= 500:
        retry_after = _retry_after_seconds(response_headers.get("Retry-After"), now=started_at)
        return _retry(
            delivery,
            started_at,
            error=f"HTTP {code} from the partner.",
            retry_after=retry_after,
            **answered,
        )
    if 300 <= code < 400:
        location = response_headers.get("Location", "")
        message = (
            f"HTTP {code} redirect to {location or '(no location)'}: redirects are not followed."
        )
    else:
        message = f"HTTP {code} from the partner: not retried."
    return _failed(delivery, started_at, error=message, **answered)


def _elapsed_ms(clock: float) -> int:
    return int((time.monotonic() - clock) * 1000)


@dataclass
class _Read:
    """What was read of one answer's body: every byte counted, the first 2 kB kept."""

    start: bytearray = field(default_factory=bytearray)
    size: int = 0
    cut: bool = False  # the body went on past the read limit

    def excerpt(self) -> str:
        return bytes(self.start).decode("utf-8", errors="replace")


def _response_read(response: requests.Response, *, into: _Read) -> None:
    """Read the body to its end, or up to ``_RESPONSE_READ_LIMIT`` (then the connection is
    dropped, not reused). The attempt's deadline bounds every read (``callbacks.network``)."""
    for chunk in response.iter_content(chunk_size=8192):
        into.size += len(chunk)
        if len(into.start) < RESPONSE_EXCERPT_BYTES:
            into.start += chunk[: RESPONSE_EXCERPT_BYTES - len(into.start)]
        if into.size > _RESPONSE_READ_LIMIT:
            into.cut = True
            return


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
    **answered: Any,
) -> Outcome:
    return Outcome(delivery=delivery, state=FAILED, started_at=started_at, error=error, **answered)


def _retry(
    delivery: ClaimedDelivery,
    started_at: datetime,
    *,
    error: str,
    retry_after: float | None = None,
    **answered: Any,
) -> Outcome:
    """Schedule the next attempt, or fail the delivery once its retry window is over."""
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
