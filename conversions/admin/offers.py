"""Admin pages of offers (with their events) and clicks.

An offer's page also has its tracking section (``conversions.admin.offer_tracking``: the click
link for a chosen partner, the postback URL with its token masked) and the postback token's
rotation and one-time reveal (``conversions.admin.postback_token``)."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.db import models
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import URLPattern, reverse

from conversions.admin.display import duration, when
from conversions.admin.offer_tracking import offer_tracking_context
from conversions.admin.postback_token import OfferPostbackTokenViews
from conversions.admin.test_conversion import OfferTestConversionViews
from conversions.amounts import amount
from conversions.models import Click, Offer, OfferEvent
from conversions.postback_tokens import postback_token_mask
from gokart.admin_base import ChangePageContextAdmin, LargeTablePaginator, ReadOnlyAdminMixin

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
class OfferAdmin(OfferPostbackTokenViews, OfferTestConversionViews, ChangePageContextAdmin):
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
    # The postback token is a secret: generated on creation, shown in full once (the page the
    # creation or a rotation redirects to), masked everywhere after.
    exclude = ["postback_secret"]
    readonly_fields = ["postback_token", "created_at"]
    change_form_template = "admin/conversions/offer/change_form.html"

    class Media:
        css = {"all": ["conversions/admin.css"]}
        js = ["conversions/offer_tracking.js"]

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
        return postback_token_mask(obj.postback_secret)

    def get_urls(self) -> list[URLPattern]:
        return [*self.postback_token_urls(), *self.test_conversion_urls(), *super().get_urls()]

    def change_page_context(self, request: HttpRequest, offer: Offer | None) -> dict[str, Any]:
        """The tracking links, and for who may change the offer the token's rotate button and
        the test conversion tool."""
        if offer is None or not self.has_view_or_change_permission(request, offer):
            return {}
        context = offer_tracking_context(request, offer=offer)
        if self.has_change_permission(request, offer):
            context["rotate_token_url"] = reverse(
                "admin:conversions_offer_rotate_token", args=[offer.pk]
            )
        context.update(self.test_conversion_context(request, offer))
        return context

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
