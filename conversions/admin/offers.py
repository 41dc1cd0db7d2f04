"""Admin pages of offers (with their events) and clicks."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.db import models
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.cache import add_never_cache_headers, patch_cache_control

from conversions.admin.display import amount, duration, when
from conversions.models import Click, Offer, OfferEvent
from gokart.admin_base import LargeTablePaginator, ReadOnlyAdminMixin

_DURATION_PART = re.compile(r"(\d+)\s*(day|hour|minute|d|h|m)s?\b", re.IGNORECASE)
_UNITS = {
    "day": "days",
    "d": "days",
    "hour": "hours",
    "h": "hours",
    "minute": "minutes",
    "m": "minutes",
}


class DurationInWordsField(forms.DurationField):
    """A duration typed and shown in words: "7 days", "12 hours", "1 day 6 hours" (Django's
    own forms, such as "7 00:00:00", are still understood)."""

    widget = forms.TextInput(attrs={"placeholder": "e.g. 7 days, 12 hours"})

    def prepare_value(self, value: Any) -> Any:
        return duration(value) if isinstance(value, timedelta) else value

    def to_python(self, value: Any) -> timedelta | None:
        text = str(value or "").strip()
        parts = _DURATION_PART.findall(text)
        if parts and not _DURATION_PART.sub("", text).replace(",", "").replace("and", "").strip():
            total = timedelta()
            for number, unit in parts:
                total += timedelta(**{_UNITS[unit.lower()]: int(number)})
            return total
        return super().to_python(value)


class AmountField(forms.DecimalField):
    """Payout and revenue shown with two decimals ("0.50", not "0.5000")."""

    def prepare_value(self, value: Any) -> Any:
        return amount(value) if isinstance(value, Decimal) else value


class OfferEventInline(admin.TabularInline):
    model = OfferEvent
    extra = 1
    fields = ["code", "name", "payout", "revenue"]
    formfield_overrides = {models.DecimalField: {"form_class": AmountField}}


@admin.register(Offer)
class OfferAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "advertiser",
        "is_active",
        "rewarding_mode",
        "pending_time_words",
        "attribution_window_words",
        "currency",
        "event_count",
    ]
    list_filter = ["is_active", "rewarding_mode"]
    search_fields = ["name", "advertiser"]  # offers are few: a LIKE scan is fine here
    inlines = [OfferEventInline]
    # A landing URL typed without a scheme is https (Django 6's default, set now).
    # Durations are typed and shown in words ("7 days").
    formfield_overrides = {
        models.URLField: {"assume_scheme": "https"},
        models.DurationField: {"form_class": DurationInWordsField},
    }
    # The postback token is a secret: generated on creation, shown in full once (the page that
    # answers the creation), masked everywhere after.
    exclude = ["postback_secret"]
    readonly_fields = ["postback_token", "created_at"]

    @admin.display(description="pending time", ordering="pending_time")
    def pending_time_words(self, obj: Offer) -> str:
        return duration(obj.pending_time)

    @admin.display(description="attribution window", ordering="attribution_window")
    def attribution_window_words(self, obj: Offer) -> str:
        return duration(obj.attribution_window)

    @admin.display(description="postback token")
    def postback_token(self, obj: Offer) -> str:
        if obj.pk is None:
            return "Generated when the offer is saved, and shown once then."
        token = obj.postback_secret
        return f"{token[:2]}…{token[-2:]}" if len(token) >= 8 else "…"

    def response_add(
        self, request: HttpRequest, obj: Offer, post_url_continue: str | None = None
    ) -> HttpResponse:
        if "_popup" in request.POST:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Offer “{obj}” added",
            "opts": self.opts,
            "offer": obj,
            "postback_url": request.build_absolute_uri(reverse("postback"))
            + "?gk_click_id={gk_click_id}&event={event}&txn_id={txn_id}&token="
            + obj.postback_secret,
            "change_url": reverse("admin:conversions_offer_change", args=[obj.pk]),
        }
        response = TemplateResponse(request, "admin/conversions/offer/postback_token.html", context)
        add_never_cache_headers(response)
        patch_cache_control(response, no_store=True)
        return response

    def get_queryset(self, request: HttpRequest) -> QuerySet[Offer]:
        return super().get_queryset(request).annotate(_event_count=Count("events"))

    @admin.display(description="events", ordering="_event_count")
    def event_count(self, obj: Offer) -> int:
        return obj._event_count  # type: ignore[attr-defined]


@admin.register(Click)
class ClickAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Clicks are tracked data: looked up by exact gk_click_id, never edited here."""

    list_display = ["gk_click_id", "offer", "partner", "sub_id", "created"]
    list_select_related = ["offer", "partner"]
    list_filter = ["offer", "partner"]
    search_fields = ["=gk_click_id"]
    search_help_text = "Exact gk_click_id."
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = LargeTablePaginator
    sortable_by = ["gk_click_id", "created"]

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: Click) -> str:
        return when(obj.created_at)

    raw_id_fields = ["offer", "partner"]
    readonly_fields = ["gk_click_id", "offer", "partner", "sub_id", "ip_address", "created_at"]
