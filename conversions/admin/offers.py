"""Admin pages of offers (with their events) and clicks."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from conversions.admin.pagination import LargeTablePaginator
from conversions.models import Click, Offer, OfferEvent


class OfferEventInline(admin.TabularInline):
    model = OfferEvent
    extra = 1
    fields = ["code", "name", "payout", "revenue"]


@admin.register(Offer)
class OfferAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "advertiser",
        "is_active",
        "rewarding_mode",
        "pending_time",
        "currency",
        "event_count",
    ]
    list_filter = ["is_active", "rewarding_mode"]
    search_fields = ["name", "advertiser"]  # offers are few: a LIKE scan is fine here
    inlines = [OfferEventInline]
    readonly_fields = ["created_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Offer]:
        return super().get_queryset(request).annotate(_event_count=Count("events"))

    @admin.display(description="events", ordering="_event_count")
    def event_count(self, obj: Offer) -> int:
        return obj._event_count  # type: ignore[attr-defined]


@admin.register(Click)
class ClickAdmin(admin.ModelAdmin):
    """Clicks are tracked data: looked up by exact gk_click_id, never edited here."""

    list_display = ["gk_click_id", "offer", "partner", "sub_id", "created_at"]
    list_select_related = ["offer", "partner"]
    list_filter = ["offer", "partner"]
    search_fields = ["=gk_click_id"]
    search_help_text = "Exact gk_click_id."
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = LargeTablePaginator
    sortable_by = ["gk_click_id", "created_at"]
    raw_id_fields = ["offer", "partner"]
    readonly_fields = ["gk_click_id", "offer", "partner", "sub_id", "ip_address", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Click | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Click | None = None) -> bool:
        return False
