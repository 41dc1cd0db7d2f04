"""An offer's postback token in the admin: shown in full once, inside the postback URL, and
rotated without a lost grace.

The pages are the ones every rotated secret has (``gokart.secret_rotation_admin``); this module
says what they say of a postback token, shows it inside the postback URL, and masks it
(``ab…yz``). Rotating needs "Can change offer".
"""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import URLPattern

from conversions.admin.offer_tracking import postback_url
from conversions.models import Offer
from conversions.postback_tokens import OFFER_POSTBACK_TOKEN, postback_token_mask
from gokart.secret_rotation_admin import SecretRotationViews, SecretWording


class OfferPostbackTokenViews(SecretRotationViews):
    """The rotation and reveal pages of ``OfferAdmin`` (mixed in first)."""

    rotated_secret = OFFER_POSTBACK_TOKEN
    rotate_path = "rotate-token"
    reveal_path = "postback-token"
    reveal_value_id = "gk-postback-url"

    def secret_wording(self, owner: Offer) -> SecretWording:
        return SecretWording(
            noun="postback token",
            short="token",
            in_use_column="Accepted",
            in_use_intro="Postbacks are accepted now with these tokens:",
            still_used="is still accepted",
            grace_reason=f"so {owner.advertiser}'s postbacks keep being recorded while they switch",
            after_grace="postbacks with the current token are refused (403) and record nothing",
            holder=owner.advertiser,
            given="postback URL",
            usage=(
                f"Give it to {owner.advertiser}: their server calls it for each conversion, "
                "filling in the click's gk_click_id, the event code and their transaction id."
            ),
        )

    def secret_mask(self, stored: str) -> str:
        return postback_token_mask(stored)

    def secret_shown(self, request: HttpRequest, owner: Offer, secret: str) -> str:
        return postback_url(request, token=secret)

    def postback_token_urls(self) -> list[URLPattern]:
        return self.secret_rotation_urls()
