"""Rotating a partner's signing secret without ever dropping one the partner still uses.

The rule is ``gokart.secret_rotation``'s, shared with offers' postback tokens: the replaced
secret keeps signing, alongside the current one, until its own expiry (now +
``PARTNER_SECRET_GRACE_HOURS``), and a later rotation never shortens it.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings

from callbacks.models import Partner, PartnerSigningSecret, signing_secret_generate
from gokart.secret_rotation import RotatedSecret, secret_rotate


def partner_secret_grace() -> timedelta:
    """How long a replaced secret still signs (``PARTNER_SECRET_GRACE_HOURS``, 24)."""
    return timedelta(hours=settings.PARTNER_SECRET_GRACE_HOURS)


PARTNER_SIGNING_SECRET = RotatedSecret(
    owner_model=Partner,
    owner_field="signing_secret",
    replaced_model=PartnerSigningSecret,
    replaced_owner_field="partner",
    replaced_value_field="secret",
    generate=signing_secret_generate,
    grace=partner_secret_grace,
)


def partner_signing_secret_rotate(
    *, partner: Partner, grace: timedelta | None = None, replacing: str | None = None
) -> str | None:
    """Give the partner a new signing secret and return it (show it once; it is masked after).

    ``gokart.secret_rotation.secret_rotate`` with partners' grace unless ``grace`` is given;
    None when ``replacing`` (a fingerprint) is no longer the current secret (a repeated POST).
    """
    return secret_rotate(
        kind=PARTNER_SIGNING_SECRET, owner=partner, grace=grace, replacing=replacing
    )
