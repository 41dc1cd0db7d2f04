"""Partners: callback URL, which statuses are sent, and the signing secret.

The signing secret is shown in full exactly once: in the response to the request that created
or rotated it (never stored in a message, the session or a log, and never cached). Every
other page shows it masked (``whsec_ab…yz``). Rotating keeps the old secret signing for a
grace period, so the partner can switch its verifier without rejecting a callback.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.utils.html import format_html

from callbacks import services as callback_services
from callbacks.models import Partner

CALLBACK_URL_MESSAGE = (
    "Enter a full http:// or https:// URL, for example https://partner.example/gokart/callbacks."
)

# How long the old secret keeps signing after a rotation.
ROTATION_GRACE = timedelta(hours=24)


def signing_secret_mask(secret: str) -> str:
    """``whsec_ab…yz``: enough to tell two secrets apart, useless to an attacker."""
    if not secret:
        return "—"
    prefix, _, body = secret.rpartition("_")
    body = body.rstrip("=")  # base64 padding would make the last two characters alike
    if len(body) < 8:
        return f"{prefix}_…" if prefix else "…"
    return f"{prefix}_{body[:2]}…{body[-2:]}" if prefix else f"{body[:2]}…{body[-2:]}"


def _grace_wording(grace: timedelta) -> str:
    hours = int(grace.total_seconds() // 3600)
    if hours and hours % 24 == 0:
        days = hours // 24
        return "24 hours" if days == 1 else f"{days} days"
    return f"{hours} hours" if hours != 1 else "1 hour"


def _url_fields_assume_https(db_field: models.Field, **kwargs: Any) -> forms.Field | None:
    if isinstance(db_field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return db_field.formfield(**kwargs)


class PartnerForm(forms.ModelForm):
    success_callbacks = forms.BooleanField(
        label="Success callbacks",
        required=False,
        initial=True,
        disabled=True,
        help_text="Always sent: partners reward their users on Success, so it cannot be off.",
    )

    class Meta:
        model = Partner
        formfield_callback = _url_fields_assume_https
        fields = [
            "name",
            "is_active",
            "callback_url",
            "success_callbacks",
            "pending_callbacks_enabled",
            "rejected_callbacks_enabled",
        ]
        error_messages = {"callback_url": {"invalid": CALLBACK_URL_MESSAGE}}
        help_texts = {
            "callback_url": "The http:// or https:// URL that receives a signed JSON POST per "
            "status change. Leave empty to send no callbacks.",
            "pending_callbacks_enabled": "Send a callback when a conversion becomes Pending.",
            "rejected_callbacks_enabled": "Send a callback when a conversion is Rejected "
            "(the partner claws the reward back).",
        }

    def clean_callback_url(self) -> str:
        url: str = self.cleaned_data.get("callback_url") or ""
        if url and urlsplit(url).scheme.lower() not in {"http", "https"}:
            raise ValidationError(CALLBACK_URL_MESSAGE, code="invalid")
        return url


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    form = PartnerForm
    # A URL typed without a scheme is taken as https://, never http://.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    change_form_template = "admin/callbacks/partner/change_form.html"
    list_display = [
        "name",
        "is_active",
        "callback_url",
        "pending_callbacks_enabled",
        "rejected_callbacks_enabled",
        "signing_secret_masked",
        "deliveries_link",
        "created_at",
    ]
    list_filter = ["is_active"]
    search_fields = ["name"]  # partners are few: a LIKE scan is fine here
    readonly_fields = ["signing_secret_masked", "created_at"]
    fieldsets = [
        (None, {"fields": ["name", "is_active"]}),
        (
            "Callbacks",
            {
                "fields": [
                    "callback_url",
                    "success_callbacks",
                    "pending_callbacks_enabled",
                    "rejected_callbacks_enabled",
                ]
            },
        ),
        (
            "Signing secret",
            {
                "fields": ["signing_secret_masked", "created_at"],
                "description": "Callbacks are signed the Standard Webhooks way (webhook-id, "
                "webhook-timestamp and webhook-signature headers, HMAC-SHA256 with this "
                "secret). The secret is shown in full once, when it is created or rotated.",
            },
        ),
    ]

    class Media:
        css = {"all": ["callbacks/admin.css"]}

    @admin.display(description="signing secret")
    def signing_secret_masked(self, obj: Partner) -> str:
        if obj.pk is None:
            return "Generated when the partner is saved, and shown once then."
        masked = signing_secret_mask(obj.signing_secret)
        expires = obj.previous_signing_secret_expires_at
        if obj.previous_signing_secret and expires and expires > timezone.now():
            return format_html(
                "{} <span class='help'>(the previous secret {} still signs until {})</span>",
                masked,
                signing_secret_mask(obj.previous_signing_secret),
                expires.strftime("%Y-%m-%d %H:%M %Z"),
            )
        return masked

    @admin.display(description="callbacks")
    def deliveries_link(self, obj: Partner) -> str:
        url = reverse("admin:callbacks_callbackdelivery_changelist")
        return format_html(
            '<a href="{}?partner__id__exact={}">Deliveries</a> · '
            '<a href="{}?partner__id__exact={}&amp;state__exact=failed">Failed</a>',
            url,
            obj.pk,
            url,
            obj.pk,
        )

    # -- creation: the secret is shown once, in the response to the add form ----------------
    def response_add(
        self, request: HttpRequest, obj: Partner, post_url_continue: str | None = None
    ) -> HttpResponse:
        if "_popup" in request.POST:
            return super().response_add(request, obj, post_url_continue)
        return self._signing_secret_response(
            request,
            obj,
            title=f"Partner “{obj}” added",
            secret=obj.signing_secret,
            rotated=False,
        )

    # -- rotation ---------------------------------------------------------------------------
    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<path:object_id>/rotate-secret/",
                self.admin_site.admin_view(self.rotate_secret_view),
                name="callbacks_partner_rotate_secret",
            ),
            *super().get_urls(),
        ]

    def rotate_secret_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """GET: confirm (what the grace period means). POST: rotate and show the new secret."""
        partner = get_object_or_404(Partner, pk=object_id if object_id.isdigit() else None)
        if not self.has_change_permission(request, partner):
            raise PermissionDenied
        if request.method == "POST":
            secret = callback_services.partner_signing_secret_rotate(
                partner=partner, grace=ROTATION_GRACE
            )
            self.log_change(request, partner, "Rotated the signing secret.")
            return self._signing_secret_response(
                request,
                partner,
                title=f"New signing secret for “{partner}”",
                secret=secret,
                rotated=True,
            )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Rotate the signing secret of “{partner}”?",
            "opts": self.opts,
            "media": self.media,
            "partner": partner,
            "original": partner,
            "current_masked": signing_secret_mask(partner.signing_secret),
            "grace": _grace_wording(ROTATION_GRACE),
        }
        return TemplateResponse(request, "admin/callbacks/partner/rotate_secret.html", context)

    def _signing_secret_response(
        self, request: HttpRequest, partner: Partner, *, title: str, secret: str, rotated: bool
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.opts,
            "media": self.media,
            "partner": partner,
            "original": partner,
            "secret": secret,
            "rotated": rotated,
            "grace": _grace_wording(ROTATION_GRACE),
            "grace_ends": partner.previous_signing_secret_expires_at,
            "change_url": reverse("admin:callbacks_partner_change", args=[partner.pk]),
        }
        response = TemplateResponse(request, "admin/callbacks/partner/signing_secret.html", context)
        # The one page with the secret in it: never kept by a browser or proxy cache.
        add_never_cache_headers(response)
        patch_cache_control(response, no_store=True)
        return response

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra_context = dict(extra_context or {})
        partner = self.get_object(request, object_id)
        if partner is not None and self.has_change_permission(request, partner):
            extra_context["rotate_url"] = reverse(
                "admin:callbacks_partner_rotate_secret", args=[partner.pk]
            )
        return super().change_view(request, object_id, form_url, extra_context)
