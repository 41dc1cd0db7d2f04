"""Partners: callback URL, which statuses are sent, the signing secret, and health.

The list and each partner's page show its health (``callbacks.health``: attempts of the last
24 hours and 7 days by outcome, success rate, latency, backlog, Failed count, last success and
failure; the page adds the hourly chart), and a banner while it is paused. The signing secret
and its rotation are ``callbacks.admin.partner_secret``; pause, resume, the test callback and
replaying a range are ``callbacks.admin.partner_operations``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from callbacks.admin.delivery_display import moment_format
from callbacks.admin.health_chart import health_chart_svg
from callbacks.admin.partner_operations import ReplayRangeForm
from callbacks.admin.partner_postbacks import (
    EventPostbackInline,
    PartnerPostbackViews,
    macros_help,
    static_header_masked,
    static_header_reveal_once,
)
from callbacks.admin.partner_secret import (
    PartnerSigningSecretViews,
    signing_secrets_signing,
)
from callbacks.admin.resending import RESEND_PERMISSION
from callbacks.health import PartnerHealth, partner_hourly_attempts, partners_health
from callbacks.models import Partner
from callbacks.postback_macros import header_value_validate
from callbacks.postback_preview import partner_postbacks_preview
from gokart.admin_base import ChangePageContextAdmin

CALLBACK_URL_MESSAGE = (
    "Enter a full http:// or https:// URL, for example https://partner.example/gokart/callbacks."
)


def _age(age: timedelta | None) -> str:
    if age is None:
        return "—"
    seconds = int(age.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def _rate(health: PartnerHealth) -> str:
    rate = health.last_24h.success_rate
    return "—" if rate is None else f"{rate:.1%}"


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} ms"


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
    # The static header's value: typed, never shown back in the form (see partner_postbacks).
    static_header_secret = forms.CharField(
        label="Static header value",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="The secret the partner gave you. Shown once after saving, then only its "
        "first and last characters; leave empty to keep the current value.",
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
            "postback_url",
            "sequence_number",
            "static_header_name",
        ]
        widgets = {"postback_url": forms.TextInput(attrs={"class": "vLargeTextField"})}
        error_messages = {"callback_url": {"invalid": CALLBACK_URL_MESSAGE}}
        help_texts = {
            "callback_url": "The http:// or https:// URL that receives a signed JSON POST per "
            "status change. Leave empty to send no callbacks.",
            "pending_callbacks_enabled": "Send a callback when a conversion becomes Pending.",
            "rejected_callbacks_enabled": "Send a callback when a conversion is Rejected "
            "(the partner claws the reward back).",
            "postback_url": "A URL with macros, fetched (GET) for every status change the "
            "partner is owed, beside the JSON callback. " + macros_help(),
            "sequence_number": "The counter is what partners order a conversion's callbacks by; "
            "choose GoKart's meaning only for a receiver built against GoKart's callback schema. "
            "statusChangeNumber always carries the counter.",
            "static_header_name": "Optional: a header sent with every callback and postback, "
            "e.g. X-Api-Token. Leave empty for none.",
        }

    def clean(self) -> dict[str, Any]:
        """The static header: a new value replaces the stored one; no name, no header."""
        cleaned = super().clean() or {}
        name, secret = cleaned.get("static_header_name"), cleaned.get("static_header_secret")
        self.static_header_set = False
        if not name:
            self.instance.static_header_value = ""
        elif secret:
            try:
                header_value_validate(secret)
            except ValidationError as error:
                self.add_error("static_header_secret", error)
                return cleaned
            self.instance.static_header_value = secret
            self.static_header_set = True
        elif not self.instance.static_header_value:
            self.add_error("static_header_secret", "Enter the header's value.")
        return cleaned

    def clean_callback_url(self) -> str:
        url: str = self.cleaned_data.get("callback_url") or ""
        if url and urlsplit(url).scheme.lower() not in {"http", "https"}:
            raise ValidationError(CALLBACK_URL_MESSAGE, code="invalid")
        return url


@admin.register(Partner)
class PartnerAdmin(PartnerSigningSecretViews, PartnerPostbackViews, ChangePageContextAdmin):
    form = PartnerForm
    inlines = [EventPostbackInline]
    # A URL typed without a scheme is taken as https://, never http://.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    change_form_template = "admin/callbacks/partner/change_form.html"
    change_list_template = "admin/callbacks/partner/change_list.html"
    list_display = [
        "name",
        "callbacks_state",
        "callback_host",
        "success_24h",
        "latency_p95",
        "backlog",
        "failed_link",
        "last_success",
        "last_failure",
    ]
    list_filter = ["is_active"]
    search_fields = ["name"]  # partners are few: a LIKE scan is fine here
    readonly_fields = ["signing_secret_masked", "static_header", "created_at"]
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
                    "sequence_number",
                    "postback_url",
                ]
            },
        ),
        (
            "Static header",
            {
                "fields": ["static_header", "static_header_name", "static_header_secret"],
                "description": "Sent beside the signature on every JSON callback, and on every "
                "templated postback (which is not signed), for receivers that check a token.",
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
    def signing_secret_masked(self, obj: Partner) -> SafeString | str:
        if obj.pk is None:
            return "Generated when the partner is saved, and shown once then."
        rows = signing_secrets_signing(obj)
        if len(rows) == 1:
            return rows[0]["masked"]
        others = ", ".join(
            f"{row['masked']} until {row['expires_at']:%Y-%m-%d %H:%M %Z}" for row in rows[1:]
        )
        return format_html(
            "{} <span class='help'>(replaced secrets still signing: {})</span>",
            rows[0]["masked"],
            others,
        )

    @admin.display(description="static header")
    def static_header(self, obj: Partner) -> str:
        return static_header_masked(obj)

    # -- the list: health per partner, read for the page's rows in five queries ------------
    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        changelist = super().get_changelist_instance(request)
        rows = list(changelist.result_list)
        health = partners_health(partner_ids=[row.pk for row in rows], with_week=False)
        for row in rows:
            row._health = health[row.pk]
        return changelist

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra_context = dict(extra_context or {})
        extra_context["paused_partners"] = list(
            Partner.objects.filter(paused_at__isnull=False).order_by("name")
        )
        return super().changelist_view(request, extra_context)

    def _health(self, obj: Partner) -> PartnerHealth:
        return getattr(obj, "_health", None) or partners_health(partner_ids=[obj.pk])[obj.pk]

    @admin.display(description="callbacks")
    def callbacks_state(self, obj: Partner) -> SafeString:
        if obj.paused_at is not None:
            return format_html(
                '<span class="gk-callback gk-callback-held" title="{}">Paused</span>',
                obj.pause_reason,
            )
        if not (obj.callback_url or obj.postback_url):
            return format_html('<span class="gk-callback-none">{}</span>', "No URL")
        if obj.failed_attempts_in_a_row:
            return format_html(
                '<span class="gk-callback gk-callback-retrying" title="{} failed in a row">'
                "Failing</span>",
                obj.failed_attempts_in_a_row,
            )
        return format_html('<span class="gk-callback gk-callback-delivered">{}</span>', "Sending")

    @admin.display(description="callback URL")
    def callback_host(self, obj: Partner) -> SafeString | str:
        """The URL's host (the full URL on hover and on the partner's page)."""
        if not obj.callback_url:
            return "—"
        return format_html(
            '<span title="{}">{}</span>', obj.callback_url, urlsplit(obj.callback_url).netloc
        )

    @admin.display(description="success 24 h")
    def success_24h(self, obj: Partner) -> str:
        health = self._health(obj)
        return f"{_rate(health)} of {health.last_24h.total:,}"

    @admin.display(description="latency p95")
    def latency_p95(self, obj: Partner) -> str:
        return _ms(self._health(obj).latency_p95_ms)

    @admin.display(description="backlog")
    def backlog(self, obj: Partner) -> str:
        health = self._health(obj)
        if not health.backlog:
            return "0"
        held = f" ({health.held:,} held)" if health.held else ""
        return f"{health.backlog:,}{held}, oldest {_age(health.oldest_owed_age)}"

    @admin.display(description="failed")
    def failed_link(self, obj: Partner) -> SafeString:
        url = reverse("admin:callbacks_callbackdelivery_changelist")
        return format_html(
            '<a href="{}?partner__id__exact={}&amp;state__exact=failed">{}</a>',
            url,
            obj.pk,
            f"{self._health(obj).failed:,}",
        )

    @admin.display(description="last success")
    def last_success(self, obj: Partner) -> str:
        return moment_format(self._health(obj).last_success_at)

    @admin.display(description="last failure")
    def last_failure(self, obj: Partner) -> SafeString | str:
        health = self._health(obj)
        if health.last_failure_at is None:
            return "—"
        return format_html(
            '{}<div class="help">{}</div>',
            moment_format(health.last_failure_at),
            health.last_failure_reason,
        )

    # -- the page: banner, health panel, chart, operations -----------------------------------
    def get_urls(self) -> list[URLPattern]:
        return [
            *self.signing_secret_urls(),
            *self.operation_urls(),
            *self.postback_urls(),
            *super().get_urls(),
        ]

    def change_page_context(self, request: HttpRequest, partner: Partner | None) -> dict[str, Any]:
        """The health panel and chart, and the operations' buttons for who may use them."""
        if partner is None:
            return {}
        health = partners_health(partner_ids=[partner.pk])[partner.pk]
        context = {
            "partner_health": health,
            "health_rows": _health_rows(health),
            "health_chart": health_chart_svg(partner_hourly_attempts(partner_id=partner.pk)),
            "deliveries_url": reverse("admin:callbacks_callbackdelivery_changelist")
            + f"?partner__id__exact={partner.pk}",
            "postback_previews": partner_postbacks_preview(partner=partner),
            "static_header_revealed": static_header_reveal_once(request, partner.pk),
        }
        if self.has_change_permission(request, partner):
            context.update(
                rotate_url=reverse("admin:callbacks_partner_rotate_secret", args=[partner.pk]),
                pause_url=reverse("admin:callbacks_partner_pause", args=[partner.pk]),
                resume_url=reverse("admin:callbacks_partner_resume", args=[partner.pk]),
                test_callback_url=reverse(
                    "admin:callbacks_partner_test_callback", args=[partner.pk]
                ),
                test_postback_url=reverse(
                    "admin:callbacks_partner_test_postback", args=[partner.pk]
                ),
            )
            if request.user.has_perm(RESEND_PERMISSION):
                context.update(
                    replay_url=reverse("admin:callbacks_partner_replay", args=[partner.pk]),
                    replay_form=ReplayRangeForm(),
                )
        return context


def _health_rows(health: PartnerHealth) -> list[tuple[str, str, str]]:
    """The health panel: (what, last 24 hours, last 7 days)."""
    day, week = health.last_24h, health.last_7d

    def rate(counts: Any) -> str:
        return "—" if counts.success_rate is None else f"{counts.success_rate:.1%}"

    return [
        ("Attempts", f"{day.total:,}", f"{week.total:,}"),
        ("Delivered", f"{day.delivered:,}", f"{week.delivered:,}"),
        ("Failed, retried", f"{day.retried:,}", f"{week.retried:,}"),
        ("Failed for good", f"{day.failed:,}", f"{week.failed:,}"),
        ("Success rate", rate(day), rate(week)),
        ("Latency p50 / p95", f"{_ms(health.latency_p50_ms)} / {_ms(health.latency_p95_ms)}", ""),
    ]
