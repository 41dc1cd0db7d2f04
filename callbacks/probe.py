"""Send a test callback or a test postback to a partner now, from the admin, and report what
it answered.

The request is signed like every callback (every secret that signs now) and goes through the
SSRF guard, but it is not a delivery: nothing is stored in the outbox, and its shape tells the
partner it is a test (README, "Partner callbacks"):
``{"id": "<fresh uuid>", "sentAt": "…", "test": true, "conversion": null}``.

What it shows is only what the partner's URL already says: a refused host name reads "resolves
to a private address", never the address (``callbacks.network``), so the button cannot be used
to map the internal network.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.utils import timezone

from callbacks.models import Partner
from callbacks.postback_macros import macro_examples, postback_url_fill
from callbacks.sending import (
    callback_request_build,
    partner_request_send,
    partners_for_sending,
    postback_headers,
)


@dataclass(frozen=True)
class ProbeResult:
    url: str
    status: int | None
    duration_ms: int | None
    body_excerpt: str
    error: str

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def partner_test_callback_send(*, partner_id: int) -> ProbeResult:
    """POST a signed test callback to the partner's URL; returns within one attempt's deadline
    (``CALLBACK_ATTEMPT_DEADLINE_SECONDS``), as a delivery's attempt does."""
    partner: Partner = partners_for_sending({partner_id})[partner_id]
    if not partner.callback_url:
        return ProbeResult("", None, None, "", "The partner has no callback URL.")
    test_id = str(uuid.uuid4())
    body, headers = callback_request_build(
        delivery_id=test_id,
        payload={"id": test_id, "test": True, "conversion": None},
        partner=partner,
        sent_at=timezone.now(),
    )
    answer = partner_request_send(
        partner=partner, url=partner.callback_url, body=body, headers=headers
    )
    return ProbeResult(
        url=partner.callback_url,
        status=answer.status,
        duration_ms=answer.duration_ms,
        body_excerpt=answer.body[:300],
        error=answer.error,
    )


def partner_test_postback_send(*, partner_id: int, template: str) -> ProbeResult:
    """GET ``template`` (one of the partner's postback templates) filled with every macro's
    example value (``callbacks.postback_macros.MACROS``; ``{callback_id}`` a fresh id), with
    the partner's static header, through the SSRF guard; nothing is stored. Example values,
    never a real conversion's: a receiver that rewards on postbacks must not pay for a test."""
    partner: Partner = partners_for_sending({partner_id})[partner_id]
    values = {**macro_examples(), "callback_id": str(uuid.uuid4())}
    url = postback_url_fill(template, values)
    answer = partner_request_send(partner=partner, url=url, headers=postback_headers(partner))
    return ProbeResult(
        url=url,
        status=answer.status,
        duration_ms=answer.duration_ms,
        body_excerpt=answer.body[:300],
        error=answer.error,
    )
