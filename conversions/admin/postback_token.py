"""An offer's postback token in the admin: shown in full once, rotated without a lost grace.

Post/redirect/get, as partners' signing secrets (``callbacks.admin.partner_secret``): the
request that creates an offer or rotates its token stores the token in the admin's session
(server-side) and redirects to the reveal page; its first GET shows it, inside the postback
URL, and deletes it, so a reload shows only "already shown". It is never put in a message, a
log entry or a cache, and the reveal page is ``no-store``. Every other page shows it masked
(``ab…yz``). The rotation form names the token it replaces (its fingerprint): a repeated POST
finds it already replaced and changes nothing (``conversions.postback_tokens``). Rotating needs
"Can change offer"; each rotation is recorded in the offer's history (a LogEntry).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.cache import add_never_cache_headers, patch_cache_control

from callbacks.admin.partner_secret import grace_wording
from callbacks.rotation import signing_secret_fingerprint
from conversions.admin.offer_tracking import postback_tokens_accepted, postback_url
from conversions.models import Offer
from conversions.postback_tokens import (
    offer_postback_token_rotate,
    postback_token_grace,
    postback_token_mask,
)

_REVEAL_KEY = "conversions.postback_token_reveal.{}"
ROTATE_PERMISSION_NEEDED = (
    "Rotating an offer's postback token needs the permission “Can change offer” "
    "(conversions.change_offer)."
)
VIEW_PERMISSION_NEEDED = (
    "An offer's postback token needs the permission “Can view offer” (conversions.view_offer)."
)


class OfferPostbackTokenViews(admin.ModelAdmin):
    """The rotation and reveal pages of ``OfferAdmin`` (mixed in first)."""

    def postback_token_urls(self) -> list[URLPattern]:
        return [
            path(
                "<path:object_id>/rotate-token/",
                self.admin_site.admin_view(self.rotate_token_view),
                name="conversions_offer_rotate_token",
            ),
            path(
                "<path:object_id>/postback-token/",
                self.admin_site.admin_view(self.postback_token_view),
                name="conversions_offer_postback_token",
            ),
        ]

    def postback_token_reveal_redirect(
        self, request: HttpRequest, offer: Offer, *, token: str, rotated: bool
    ) -> HttpResponseRedirect:
        """Keep the token for the next GET of its reveal page only, and redirect there."""
        request.session[_REVEAL_KEY.format(offer.pk)] = {"token": token, "rotated": rotated}
        return HttpResponseRedirect(
            reverse("admin:conversions_offer_postback_token", args=[offer.pk])
        )

    def response_add(
        self, request: HttpRequest, obj: Offer, post_url_continue: str | None = None
    ) -> HttpResponse:
        if "_popup" in request.POST:
            return super().response_add(request, obj, post_url_continue)
        return self.postback_token_reveal_redirect(
            request, obj, token=obj.postback_secret, rotated=False
        )

    def _offer(self, request: HttpRequest, object_id: str) -> Offer:
        return get_object_or_404(Offer, pk=object_id if object_id.isdigit() else None)

    def rotate_token_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """GET: confirm (which tokens are accepted, until when). POST: rotate, then reveal."""
        offer = self._offer(request, object_id)
        if not self.has_change_permission(request, offer):
            raise PermissionDenied(ROTATE_PERMISSION_NEEDED)
        change_url = reverse("admin:conversions_offer_change", args=[offer.pk])
        grace = postback_token_grace()
        if request.method == "POST":
            token = offer_postback_token_rotate(
                offer=offer, grace=grace, replacing=request.POST.get("replacing", "")
            )
            if token is None:
                self.message_user(
                    request,
                    "That rotation was already made (the form was sent again): nothing changed. "
                    "The token it made is not shown again; rotate once more if it was lost.",
                    messages.WARNING,
                )
                return HttpResponseRedirect(change_url)
            # Recorded in the offer's history; the token itself never is.
            note = f"Rotated the postback token (the old one accepted for {grace_wording(grace)})."
            self.log_change(request, offer, note)
            return self.postback_token_reveal_redirect(request, offer, token=token, rotated=True)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Rotate the postback token of “{offer}”?",
            "opts": self.opts,
            "media": self.media,
            "offer": offer,
            "original": offer,
            "replacing": signing_secret_fingerprint(offer.postback_secret),
            "current_masked": postback_token_mask(offer.postback_secret),
            "accepted": postback_tokens_accepted(offer),
            "grace": grace_wording(grace),
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/conversions/offer/rotate_token.html", context)

    def postback_token_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The token just created or rotated, inside the postback URL, on its first GET only."""
        offer = self._offer(request, object_id)
        if not self.has_view_or_change_permission(request, offer):
            raise PermissionDenied(VIEW_PERMISSION_NEEDED)
        revealed = request.session.pop(_REVEAL_KEY.format(offer.pk), None)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Postback URL of “{offer}”",
            "opts": self.opts,
            "media": self.media,
            "offer": offer,
            "original": offer,
            "postback_url": postback_url(request, token=revealed["token"]) if revealed else None,
            "rotated": bool(revealed and revealed["rotated"]),
            "accepted": postback_tokens_accepted(offer),
            "grace": grace_wording(postback_token_grace()),
            "change_url": reverse("admin:conversions_offer_change", args=[offer.pk]),
        }
        response = TemplateResponse(request, "admin/conversions/offer/postback_token.html", context)
        # The one page with the token in it: never kept by a browser or proxy cache.
        add_never_cache_headers(response)
        patch_cache_control(response, no_store=True)
        return response
