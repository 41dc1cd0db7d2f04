"""A partner's signing secret in the admin: shown in full once, rotated without a lost grace.

The pages are the ones every rotated secret has (``gokart.secret_rotation_admin``); this module
says what they say of a signing secret and how one is masked (``whsec_ab…yz``).
"""

from __future__ import annotations

from typing import Any

from django.utils.safestring import mark_safe

from callbacks.models import Partner
from callbacks.rotation import PARTNER_SIGNING_SECRET
from gokart.secret_rotation_admin import SecretRotationViews, SecretWording, secret_rows


def signing_secret_mask(secret: str) -> str:
    """``whsec_ab…yz``: enough to tell two secrets apart, useless to an attacker."""
    if not secret:
        return "—"
    prefix, _, body = secret.rpartition("_")
    body = body.rstrip("=")  # base64 padding would make the last two characters alike
    if len(body) < 8:
        return f"{prefix}_…" if prefix else "…"
    return f"{prefix}_{body[:2]}…{body[-2:]}" if prefix else f"{body[:2]}…{body[-2:]}"


class PartnerSigningSecretViews(SecretRotationViews):
    """The reveal and rotation pages of ``PartnerAdmin`` (mixed in first)."""

    rotated_secret = PARTNER_SIGNING_SECRET
    rotate_path = "rotate-secret"
    reveal_path = "signing-secret"
    reveal_value_id = "gk-signing-secret"

    def secret_wording(self, owner: Partner) -> SecretWording:
        return SecretWording(
            noun="signing secret",
            short="secret",
            in_use_column="Signs",
            in_use_intro="These secrets sign every callback now:",
            still_used="keeps signing callbacks",
            grace_reason="so the partner's verifier accepts callbacks whichever secret it has",
            after_grace=(
                "the current secret stops signing and a partner still verifying with it "
                "rejects every callback"
            ),
            holder="the partner",
            given="secret",
            usage=mark_safe(  # noqa: S308 -- a constant
                "Give it to the partner: their system verifies each callback's "
                "<code>webhook-signature</code> header with it (any Standard Webhooks library "
                "does this)."
            ),
        )

    def secret_mask(self, stored: str) -> str:
        return signing_secret_mask(stored)

    def signing_secret_urls(self) -> list[Any]:
        return self.secret_rotation_urls()


def signing_secrets_signing(partner: Partner) -> list[dict[str, Any]]:
    """The secrets that sign now, masked, with their expiry (None: the current one)."""
    return [
        {"masked": row.masked, "expires_at": row.expires_at}
        for row in secret_rows(kind=PARTNER_SIGNING_SECRET, owner=partner, mask=signing_secret_mask)
    ]
