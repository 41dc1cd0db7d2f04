"""An offer's postback token: rotated without refusing the advertiser's postbacks that still
carry the old one.

The rule is ``gokart.secret_rotation``'s, shared with partners' signing secrets: a postback is
accepted with the current token or any replaced one until its own expiry (now +
``OFFER_TOKEN_GRACE_HOURS``), and a later rotation never shortens it. Only a digest of each
token is stored (``gokart.encryption.token_digest``): ``conversions.tracking`` reads the
digests in use in its attribution query and compares each, in constant time, with the digest
of the token a postback carries. A token is readable once, from the rotation's return value.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings

from conversions.models import Offer, ReplacedPostbackToken, postback_secret_generate
from gokart.encryption import StoredDigest, token_hint
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
    """``ab…yz``: enough to tell two tokens apart, useless to an attacker. From the token, or
    from its stored digest, which keeps these characters (``gokart.encryption``)."""
    return token.hint if isinstance(token, StoredDigest) else token_hint(token)


def offer_postback_token_rotate(
    *, offer: Offer, grace: timedelta | None = None, replacing: str | None = None
) -> str | None:
    """Give the offer a new postback token and return it (show it once; it is masked after).

    ``gokart.secret_rotation.secret_rotate`` with ``OFFER_TOKEN_GRACE_HOURS`` unless ``grace``
    is given; None when ``replacing`` (a fingerprint) is no longer the current token.
    """
    return secret_rotate(kind=OFFER_POSTBACK_TOKEN, owner=offer, grace=grace, replacing=replacing)
