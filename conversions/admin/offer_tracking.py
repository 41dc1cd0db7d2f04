"""An offer's page, its tracking section: the click link for a chosen partner and the postback
URL to give the advertiser (its token masked), with the tokens postbacks are accepted with.

The link builder is a GET form on the offer's own page (``tracking_partner``, ``tracking_sub``),
so it works without JavaScript; ``static/conversions/offer_tracking.js`` updates the link as
the partner or sub id changes and copies it. The partner select lists active partners only
(an inactive partner's clicks are refused), at most ``PARTNERS_LISTED`` of them by name; any
active partner can still be chosen by its id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from callbacks.models import Partner
from conversions.models import Offer
from conversions.postback_tokens import OFFER_POSTBACK_TOKEN, postback_token_mask
from gokart.secret_rotation_admin import SecretRow, secret_rows

PARTNERS_LISTED = 500
PARTNER_PARAM = "tracking_partner"
SUB_PARAM = "tracking_sub"
# What encodeURIComponent leaves as it is besides quote's own safe characters: the page's
# script and this module write the same link.
_SUB_SAFE = "!*'()"


@dataclass(frozen=True)
class TrackingLink:
    partner_id: int | None
    sub_id: str
    url: str
    problem: str


def click_url(request: HttpRequest, *, offer_id: int, partner_id: int, sub_id: str) -> str:
    """The absolute click link of an offer for a partner (``/click/<offer>/<partner>/?sub=``).

    ``sub_id`` empty: the link ends with ``sub=``, for the partner's system to append its
    user's id."""
    path = reverse("click", args=[offer_id, partner_id])
    return f"{request.build_absolute_uri(path)}?sub={quote(sub_id, safe=_SUB_SAFE)}"


def postback_url(request: HttpRequest, *, token: str) -> str:
    """The postback URL an advertiser's server calls, with ``token`` (the real one, or masked)."""
    return (
        request.build_absolute_uri(reverse("postback"))
        + "?gk_click_id={gk_click_id}&event={event}&txn_id={txn_id}&token="
        + token
    )


def postback_tokens_accepted(offer: Offer) -> list[SecretRow]:
    """The tokens postbacks are accepted with now, masked, with their expiry (None for the
    current one)."""
    return secret_rows(kind=OFFER_POSTBACK_TOKEN, owner=offer, mask=postback_token_mask)


def tracking_link_chosen(request: HttpRequest, *, offer: Offer) -> TrackingLink:
    """The link for the partner (and sub id) chosen in the page's form, or why there is none."""
    raw_partner = request.GET.get(PARTNER_PARAM, "").strip()
    sub_id = request.GET.get(SUB_PARAM, "").strip()
    if not raw_partner:
        return TrackingLink(None, sub_id, "", "")
    if not (raw_partner.isascii() and raw_partner.isdigit()) or len(raw_partner) > 18:
        return TrackingLink(None, sub_id, "", "Choose a partner from the list.")
    partner_id = int(raw_partner)
    active = Partner.objects.filter(pk=partner_id).values_list("is_active", flat=True).first()
    if active is None:
        return TrackingLink(None, sub_id, "", f"There is no partner {partner_id}.")
    if not active:
        problem = f"Partner {partner_id} is not active: its clicks would be refused."
        return TrackingLink(partner_id, sub_id, "", problem)
    if len(sub_id) > settings.TRACKING_MAX_PARAM_LENGTH or not sub_id.isprintable():
        problem = (
            f"The sub id must be printable text of at most {settings.TRACKING_MAX_PARAM_LENGTH} "
            "characters."
        )
        return TrackingLink(partner_id, sub_id, "", problem)
    url = click_url(request, offer_id=offer.pk, partner_id=partner_id, sub_id=sub_id)
    return TrackingLink(partner_id, sub_id, url, "")


def offer_tracking_context(request: HttpRequest, *, offer: Offer) -> dict[str, Any]:
    """What the offer page's tracking section shows (``admin/conversions/offer/tracking.html``)."""
    partners = list(
        Partner.objects.filter(is_active=True)
        .order_by("name", "pk")
        .values_list("pk", "name")[: PARTNERS_LISTED + 1]
    )
    events = list(offer.events.order_by("pk").values_list("code", flat=True))
    return {
        "tracking_link": tracking_link_chosen(request, offer=offer),
        "tracking_partners": partners[:PARTNERS_LISTED],
        "tracking_partners_more": len(partners) > PARTNERS_LISTED,
        "tracking_partner_param": PARTNER_PARAM,
        "tracking_sub_param": SUB_PARAM,
        # The script swaps the partner id and the sub id into this.
        "click_url_base": request.build_absolute_uri(
            reverse("click", args=[offer.pk, 0])
        ).removesuffix("0/"),
        "postback_url_masked": postback_url(
            request, token=postback_token_mask(offer.postback_secret)
        ),
        "postback_events": events,
        "postback_tokens": postback_tokens_accepted(offer),
        "changelist_filters": request.GET.get("_changelist_filters", ""),
    }
