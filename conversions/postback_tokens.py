"""An offer's postback token: rotated without refusing the advertiser's postbacks that still
carry the old one.

The rule is ``gokart.secret_rotation``'s, shared with partners' signing secrets: a postback is
accepted with the current token or any replaced one until its own expiry (now +
``OFFER_TOKEN_GRACE_HOURS``), and a later rotation never shortens it. ``conversions.tracking``
reads the tokens in use in its attribution query and compares each in constant time.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings

from conversions.models import Offer, ReplacedPostbackToken, postback_secret_generate
from gokart.secret_rotation import RotatedSecret, secret_rotate


def postback_token_grace() -> timedelta:
    """How long a replaced token is still accepted (``OFFER_TOKEN_GRACE_HOURS``, 24)."""
    return timedelta(hours=settings.OFFER_TOKEN_GRACE_HOURS)


OFFER_POSTBACK_TOKEN = RotatedSecret(
    owner_model=Offer,
    owner_field="postback_secret",
    replaced_model=ReplacedPostbackToken,
    replaced_owner_field="offer",
    replaced_value_field="token",
    generate=postback_secret_generate,
    grace=postback_token_grace,
)


def postback_token_mask(token: str) -> str:
    """``ab…yz``: enough to tell two tokens apart, useless to an attacker."""
    return f"{token[:2]}…{token[-2:]}" if len(token) >= 8 else "…"


def offer_postback_token_rotate(
    *, offer: Offer, grace: timedelta | None = None, replacing: str | None = None
) -> str | None:
    """Give the offer a new postback token and return it (show it once; it is masked after).

    ``gokart.secret_rotation.secret_rotate`` with ``OFFER_TOKEN_GRACE_HOURS`` unless ``grace``
    is given; None when ``replacing`` (a fingerprint) is no longer the current token.
    """
    return secret_rotate(kind=OFFER_POSTBACK_TOKEN, owner=offer, grace=grace, replacing=replacing)
