"""An offer's postback token: rotated without refusing the advertiser's postbacks that still
carry the old one.

A rotation gives the offer a new current token and keeps the one it replaces in
``ReplacedPostbackToken`` with its own ``expires_at`` (now + grace, ``OFFER_TOKEN_GRACE_HOURS``).
A postback is accepted with the current token or any replaced one until its own expiry
(``conversions.tracking`` compares each in constant time), so a second rotation inside the
grace never shortens the first one's: the advertiser may still send the oldest. A rotation
names the token it replaces (its fingerprint, from the confirmation page): a repeated POST of
the same page finds it already replaced and changes nothing. The same rules as partners'
signing secrets (``callbacks.rotation``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from callbacks.rotation import signing_secret_fingerprint
from conversions.models import Offer, ReplacedPostbackToken, postback_secret_generate


def postback_token_grace() -> timedelta:
    """How long a replaced token is still accepted (``OFFER_TOKEN_GRACE_HOURS``, 24)."""
    return timedelta(hours=settings.OFFER_TOKEN_GRACE_HOURS)


@dataclass(frozen=True)
class PostbackTokenAccepted:
    """A token postbacks are accepted with now: ``expires_at`` None for the current one."""

    token: str
    expires_at: datetime | None


def postback_token_mask(token: str) -> str:
    """``ab…yz``: enough to tell two tokens apart, useless to an attacker."""
    return f"{token[:2]}…{token[-2:]}" if len(token) >= 8 else "…"


def offer_postback_tokens_accepted(*, offer: Offer) -> list[PostbackTokenAccepted]:
    """The current token, then every replaced one still accepted, latest expiry first."""
    replaced = ReplacedPostbackToken.objects.filter(
        offer=offer, expires_at__gt=timezone.now()
    ).order_by("-expires_at")
    return [PostbackTokenAccepted(offer.postback_secret, None)] + [
        PostbackTokenAccepted(row.token, row.expires_at) for row in replaced
    ]


def offer_postback_token_rotate(
    *, offer: Offer, grace: timedelta | None = None, replacing: str | None = None
) -> str | None:
    """Give the offer a new postback token and return it (show it once; it is masked after).

    The replaced token is still accepted until ``grace`` (``OFFER_TOKEN_GRACE_HOURS`` unless
    given) has passed; so are the ones earlier rotations replaced, each until its own expiry.
    ``replacing`` (a fingerprint) is the token the admin confirmed replacing: when it is no
    longer current (a repeated POST), nothing changes and None is returned.
    """
    grace = postback_token_grace() if grace is None else grace
    new_token = postback_secret_generate()
    now = timezone.now()
    with transaction.atomic():
        locked = Offer.objects.select_for_update().only("postback_secret").get(pk=offer.pk)
        if replacing is not None and replacing != signing_secret_fingerprint(
            locked.postback_secret
        ):
            return None
        ReplacedPostbackToken.objects.filter(offer=locked, expires_at__lte=now).delete()
        ReplacedPostbackToken.objects.create(
            offer=locked, token=locked.postback_secret, replaced_at=now, expires_at=now + grace
        )
        locked.postback_secret = new_token
        locked.save(update_fields=["postback_secret"])
    offer.postback_secret = new_token
    return new_token
