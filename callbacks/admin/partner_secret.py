"""A partner's signing secret in the admin: shown in full once, rotated without a lost grace.

Post/redirect/get: the request that creates or rotates a secret stores it in the admin's
session (server-side, the database session store) and redirects to the reveal page; its first
GET shows it and deletes it, so a reload shows only "already shown". It is never put in a
message, a log or a cache, and the reveal page is ``no-store``. Every other page shows it masked
(``whsec_ab…yz``). The rotation form names the secret it replaces (its fingerprint): a repeated
POST finds it already replaced and changes nothing (``callbacks.rotation``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.cache import add_never_cache_headers, patch_cache_control

from callbacks.models import Partner
from callbacks.rotation import (
    ROTATION_GRACE,
    partner_signing_secret_rotate,
    partner_signing_secrets_in_use,
    signing_secret_fingerprint,
)

_REVEAL_KEY = "callbacks.signing_secret_reveal.{}"


def signing_secret_mask(secret: str) -> str:
    """``whsec_ab…yz``: enough to tell two secrets apart, useless to an attacker."""
    if not secret:
        return "—"
    prefix, _, body = secret.rpartition("_")
    body = body.rstrip("=")  # base64 padding would make the last two characters alike
    if len(body) < 8:
        return f"{prefix}_…" if prefix else "…"
    return f"{prefix}_{body[:2]}…{body[-2:]}" if prefix else f"{body[:2]}…{body[-2:]}"


def grace_wording(grace: timedelta) -> str:
    hours = int(grace.total_seconds() // 3600)
    if hours and hours % 24 == 0:
        days = hours // 24
        return "24 hours" if days == 1 else f"{days} days"
    return f"{hours} hours" if hours != 1 else "1 hour"


def signing_secrets_signing(partner: Partner) -> list[dict[str, Any]]:
    """The secrets that sign now, masked, with their expiry (None: the current one)."""
    return [
        {"masked": signing_secret_mask(row.secret), "expires_at": row.expires_at}
        for row in partner_signing_secrets_in_use(partner=partner)
    ]


class PartnerSigningSecretViews(admin.ModelAdmin):
    """The reveal and rotation pages of ``PartnerAdmin`` (mixed in first)."""

    def signing_secret_urls(self) -> list[URLPattern]:
        return [
            path(
                "<path:object_id>/rotate-secret/",
                self.admin_site.admin_view(self.rotate_secret_view),
                name="callbacks_partner_rotate_secret",
            ),
            path(
                "<path:object_id>/signing-secret/",
                self.admin_site.admin_view(self.signing_secret_view),
                name="callbacks_partner_signing_secret",
            ),
        ]

    def signing_secret_reveal_redirect(
        self, request: HttpRequest, partner: Partner, *, secret: str, rotated: bool
    ) -> HttpResponseRedirect:
        """Keep the secret for the next GET of its reveal page only, and redirect there."""
        request.session[_REVEAL_KEY.format(partner.pk)] = {"secret": secret, "rotated": rotated}
        return HttpResponseRedirect(
            reverse("admin:callbacks_partner_signing_secret", args=[partner.pk])
        )

    def response_add(
        self, request: HttpRequest, obj: Partner, post_url_continue: str | None = None
    ) -> HttpResponse:
        if "_popup" in request.POST:
            return super().response_add(request, obj, post_url_continue)
        return self.signing_secret_reveal_redirect(
            request, obj, secret=obj.signing_secret, rotated=False
        )

    def _partner_for_change(self, request: HttpRequest, object_id: str) -> Partner:
        partner = get_object_or_404(Partner, pk=object_id if object_id.isdigit() else None)
        if not self.has_change_permission(request, partner):
            raise PermissionDenied
        return partner

    def rotate_secret_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """GET: confirm (which secrets sign, until when). POST: rotate, then reveal."""
        partner = self._partner_for_change(request, object_id)
        change_url = reverse("admin:callbacks_partner_change", args=[partner.pk])
        if request.method == "POST":
            secret = partner_signing_secret_rotate(
                partner=partner, grace=ROTATION_GRACE, replacing=request.POST.get("replacing", "")
            )
            if secret is None:
                self.message_user(
                    request,
                    "That rotation was already made (the form was sent again): nothing changed. "
                    "The secret it made is not shown again; rotate once more if it was lost.",
                    messages.WARNING,
                )
                return HttpResponseRedirect(change_url)
            self.log_change(request, partner, "Rotated the signing secret.")
            return self.signing_secret_reveal_redirect(
                request, partner, secret=secret, rotated=True
            )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Rotate the signing secret of “{partner}”?",
            "opts": self.opts,
            "media": self.media,
            "partner": partner,
            "original": partner,
            "replacing": signing_secret_fingerprint(partner.signing_secret),
            "current_masked": signing_secret_mask(partner.signing_secret),
            "signing": signing_secrets_signing(partner),
            "grace": grace_wording(ROTATION_GRACE),
        }
        return TemplateResponse(request, "admin/callbacks/partner/rotate_secret.html", context)

    def signing_secret_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The secret just created or rotated, on its first GET only."""
        partner = self._partner_for_change(request, object_id)
        revealed = request.session.pop(_REVEAL_KEY.format(partner.pk), None)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Signing secret of “{partner}”",
            "opts": self.opts,
            "media": self.media,
            "partner": partner,
            "original": partner,
            "secret": revealed["secret"] if revealed else None,
            "rotated": bool(revealed and revealed["rotated"]),
            "signing": signing_secrets_signing(partner),
            "grace": grace_wording(ROTATION_GRACE),
            "change_url": reverse("admin:callbacks_partner_change", args=[partner.pk]),
        }
        response = TemplateResponse(request, "admin/callbacks/partner/signing_secret.html", context)
        # The one page with the secret in it: never kept by a browser or proxy cache.
        add_never_cache_headers(response)
        patch_cache_control(response, no_store=True)
        return response
