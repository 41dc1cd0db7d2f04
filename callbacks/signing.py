"""Standard Webhooks signatures (https://www.standardwebhooks.com), via its own library.

Each request carries ``webhook-id`` (the delivery id, the same on every retry),
``webhook-timestamp`` (the attempt's Unix time) and ``webhook-signature``: ``v1,<base64
HMAC-SHA256 of "id.timestamp.body">`` under the partner's secret. Every secret a rotation
replaced signs too, space-separated, until its own expiry (``PartnerSigningSecret``), so the
partner's verifier accepts the request with whichever of them it holds. The secrets are
encrypted at rest and read here decrypted (``gokart.encryption``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from standardwebhooks.webhooks import Webhook

from callbacks.models import Partner


@lru_cache(maxsize=1024)
def _webhook(secret: str) -> Webhook:
    return Webhook(secret)


def partner_signing_secrets(*, partner: Partner, now: datetime) -> list[str]:
    """The secrets that sign now: the current one, and every replaced one before its expiry.

    Reads ``partner.previous_secrets.all()`` (prefetch it for a batch of partners)."""
    secrets = [partner.signing_secret]
    for previous in partner.previous_secrets.all():
        if now < previous.expires_at and previous.secret not in secrets:
            secrets.append(previous.secret)
    return secrets


def callback_headers_sign(
    *, delivery_id: str, body: str, partner: Partner, now: datetime
) -> dict[str, str]:
    """The Standard Webhooks headers for one attempt at sending ``body``."""
    now = now.astimezone(UTC)
    signatures = " ".join(
        _webhook(secret).sign(msg_id=delivery_id, timestamp=now, data=body)
        for secret in partner_signing_secrets(partner=partner, now=now)
    )
    return {
        "webhook-id": delivery_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signatures,
    }
