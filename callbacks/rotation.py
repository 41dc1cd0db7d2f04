"""Rotating a partner's signing secret without ever dropping one the partner still uses.

A rotation makes a new current secret and keeps the one it replaces in
``PartnerSigningSecret`` with its own ``expires_at`` (now + grace). Every replaced secret signs,
alongside the current one, until its own expiry, so a second rotation inside the grace never
shortens the first one's: the partner may still verify with the oldest. A rotation names the
secret it replaces (its fingerprint, from the confirmation page): a repeated POST of the same
page finds the secret already replaced and changes nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from callbacks.models import Partner, PartnerSigningSecret, signing_secret_generate

ROTATION_GRACE = timedelta(hours=24)


@dataclass(frozen=True)
class SigningSecretInUse:
    """A secret that signs callbacks now: ``expires_at`` None for the current one."""

    secret: str
    expires_at: datetime | None


def signing_secret_fingerprint(secret: str) -> str:
    """A short hash naming a secret in a form (it reveals nothing of the secret). Offers'
    postback tokens are named the same way (``conversions.postback_tokens``)."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def partner_signing_secrets_in_use(*, partner: Partner) -> list[SigningSecretInUse]:
    """The current secret, then every replaced one still signing, latest expiry first."""
    previous = PartnerSigningSecret.objects.filter(
        partner=partner, expires_at__gt=timezone.now()
    ).order_by("-expires_at")
    return [SigningSecretInUse(partner.signing_secret, None)] + [
        SigningSecretInUse(row.secret, row.expires_at) for row in previous
    ]


def partner_signing_secret_rotate(
    *, partner: Partner, grace: timedelta = ROTATION_GRACE, replacing: str | None = None
) -> str | None:
    """Give the partner a new signing secret and return it (show it once; it is masked after).

    The replaced secret keeps signing until ``grace`` has passed; so do the ones earlier
    rotations replaced, each until its own expiry. ``replacing`` (a fingerprint) is the secret
    the admin confirmed replacing: when it is no longer current (a repeated POST), nothing
    changes and None is returned.
    """
    new_secret = signing_secret_generate()
    now = timezone.now()
    with transaction.atomic():
        locked = Partner.objects.select_for_update().get(pk=partner.pk)
        if replacing is not None and replacing != signing_secret_fingerprint(locked.signing_secret):
            return None
        PartnerSigningSecret.objects.filter(partner=locked, expires_at__lte=now).delete()
        PartnerSigningSecret.objects.create(
            partner=locked, secret=locked.signing_secret, replaced_at=now, expires_at=now + grace
        )
        locked.signing_secret = new_secret
        locked.save(update_fields=["signing_secret"])
    partner.signing_secret = new_secret
    return new_secret
