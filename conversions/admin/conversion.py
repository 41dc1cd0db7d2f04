"""Conversion Management: the conversion list, its columns, search, and a conversion's page
with its status history.

The admin only reads and calls services. Changing a status (the row buttons, the page's
buttons, the action) is ``conversions.admin.status_changes``; import and export are
``conversions.imports.admin``; the "Callback sent" column and filter are ``callbacks.admin``.
Nothing else about a conversion is editable here (conversions are tracked data: no add, no
delete, every field read-only).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.utils import flatten
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from callbacks.admin import CallbackSentListFilter, ConversionCallbackMixin
from callbacks.models import CallbackDelivery
from conversions.admin.changelist import ConversionChangeList
from conversions.admin.display import email_masked, status_badge, tracked_values, when
from conversions.admin.filters import DateRangeListFilter, TestConversionListFilter
from conversions.admin.status_changes import ConversionStatusChangeMixin, status_url
from conversions.admin.totals import list_paginator, list_totals
from conversions.amounts import money
from conversions.imports.admin import ConversionImportMixin
from conversions.models import Conversion, Status
from conversions.reports.admin import ConversionExportMixin
from conversions.selectors import (
    conversion_ids_matching,
    conversion_status_history,
)
from conversions.test_conversions import TEST_REJECTION_REASON, TEST_WATCH
from conversions.tracking_parameters import CNV_SUBS, PUB_SUBS
from gokart.admin_base import ChangePageContextAdmin, LargeTablePaginator, ReadOnlyAdminMixin

# Shown on the status page of one conversion: enough to see how it got where it is.
HISTORY_ROWS = 200
# What a search looks in, as the empty result says it.
SEARCHED = "Conversion Event ID, gk_click_id, transaction id or partner sub id"
VIEW_PERMISSION_NEEDED = (
    "Conversion Management needs the permission “Can view conversion” "
    "(conversions.view_conversion)."
)


@admin.register(Conversion)
class ConversionAdmin(
    ConversionStatusChangeMixin,
    ConversionImportMixin,
    ConversionExportMixin,
    ConversionCallbackMixin,
    ReadOnlyAdminMixin,
    ChangePageContextAdmin,
):
    change_form_template = "admin/conversions/conversion/change_form.html"
    # Import-export's buttons (both) over our own list template.
    import_export_change_list_template = "admin/conversions/importjob/conversion_change_list.html"
    # Two facts per column where they belong together, so that every column, the status
    # buttons included, fits a 1440-pixel screen without scrolling sideways.
    list_display = [
        "id",
        "gk_click_id",
        "offer_and_event",
        "partner_and_sub_id",
        "status_badge",
        "money",
        "created",
        "last_status_change",
        "callback_sent",
    ]
    list_display_links = ["id"]
    list_select_related = ["click", "offer", "offer_event", "partner"]
    list_filter = [
        "status",
        "offer",
        "partner",
        "status_source",
        # From / before dates: one indexed range each, unlike date_hierarchy, which
        # aggregates the distinct dates of the whole table.
        ("created_at", DateRangeListFilter),
        ("status_changed_at", DateRangeListFilter),
        CallbackSentListFilter,
        TestConversionListFilter,
    ]
    # Sorting by any other column would sort the whole table; these read an index.
    sortable_by = ["id", "status_badge", "created"]
    # Only shows the search box: the search itself is get_search_results (exact matches).
    search_fields = ["=id"]
    search_help_text = (
        "Exact Conversion Event ID, gk_click_id, advertiser transaction id or partner sub id."
    )
    list_per_page = 100
    empty_value_display = "—"  # (the site's default is a lazy translation, resolved per cell)
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # facet counts aggregate the whole table
    paginator = LargeTablePaginator  # with the list's totals: get_paginator
    actions = ["set_status_action"]
    fields = [
        "id",
        "click_gk_click_id",
        "offer",
        "offer_event",
        "partner",
        "sub_id",
        "partner_values",
        "click_time",
        "status_badge",
        "status_reason",
        "status_source",
        "status_changed",
        "status_version",
        "pending_until_time",
        "payout_amount",
        "revenue_amount",
        "transaction_id",
        "sale_amount",
        "advertiser_values",
        "cnv_email_masked",
        "created_time",
    ]
    readonly_fields = flatten(fields)

    # The list's page: filters folded into a "Filters" toggle on a narrow screen, totals.
    change_list_template = "admin/conversions/conversion/change_list.html"

    class Media:
        css = {"all": ["conversions/admin.css", "conversions/change_set.css"]}

    # -- permissions: read-only (ReadOnlyAdminMixin); the status has its own permission -----
    # -- columns ----------------------------------------------------------------------------
    # Django capitalises headers ("Gk_click_id"): name the column so that reads well.
    @admin.display(description="Click ID (gk_click_id)")
    def gk_click_id(self, obj: Conversion) -> SafeString:
        # On the list: a link to the list of every event of this click.
        return format_html(
            '<a href="?q={}" title="All conversions of this click">{}</a>',
            quote(obj.click.gk_click_id, safe=""),
            obj.click.gk_click_id,
        )

    @admin.display(description="Click ID (gk_click_id)")
    def click_gk_click_id(self, obj: Conversion) -> SafeString:
        # On the change page: the same link, from there.
        return format_html(
            '<a href="{}?q={}" title="All conversions of this click">{}</a>',
            reverse("admin:conversions_conversion_changelist"),
            quote(obj.click.gk_click_id, safe=""),
            obj.click.gk_click_id,
        )

    @admin.display(
        description=mark_safe(  # noqa: S308 -- a constant
            '<input type="checkbox" id="action-toggle" '
            'aria-label="Select all objects on this page for an action">'
        )
    )
    def action_checkbox(self, obj: Conversion) -> SafeString:
        # Django's renders a form widget template per row; the same markup, directly.
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" '
            'aria-label="Select this object for an action - {}">',
            ACTION_CHECKBOX_NAME,
            obj.pk,
            obj,
        )

    @admin.display(description="offer · event")
    def offer_and_event(self, obj: Conversion) -> SafeString:
        return format_html(
            '{}<br><span class="gk-quiet">{}</span>', obj.offer.name, obj.offer_event.name
        )

    @admin.display(description="partner · sub id")
    def partner_and_sub_id(self, obj: Conversion) -> SafeString:
        return format_html(
            '{}<br><span class="gk-quiet">{}</span>', obj.partner.name, obj.click.sub_id or "—"
        )

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Conversion) -> SafeString:
        return status_badge(obj.status)

    @admin.display(description="payout · revenue")
    def money(self, obj: Conversion) -> SafeString:
        return format_html(
            '{}<br><span class="gk-quiet">{}</span>',
            money(obj.payout, obj.offer.currency),
            money(obj.revenue, obj.offer.currency),
        )

    @admin.display(description="payout")
    def payout_amount(self, obj: Conversion) -> str:
        return money(obj.payout, obj.offer.currency)

    @admin.display(description="revenue")
    def revenue_amount(self, obj: Conversion) -> str:
        return money(obj.revenue, obj.offer.currency)

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: Conversion) -> SafeString:
        day, time = when(obj.created_at).split(" ", 1)
        return format_html('{}<br><span class="gk-quiet">{}</span>', day, time)

    @admin.display(description="last status change")
    def last_status_change(self, obj: Conversion) -> SafeString:
        day, time = when(obj.status_changed_at).split(" ", 1)
        return format_html(
            '{}<br><span class="gk-quiet">{} · {}</span>',
            day,
            time,
            obj.get_status_source_display(),
        )

    @admin.display(description="partner's user/sub id")
    def sub_id(self, obj: Conversion) -> str:
        return obj.click.sub_id

    @admin.display(description="partner's click values")
    def partner_values(self, obj: Conversion) -> str:
        return tracked_values(
            [("pub_click_id", obj.click.pub_click_id)]
            + [(f"pub_sub_{n}", getattr(obj.click, f"pub_sub_{n}")) for n in range(1, PUB_SUBS + 1)]
        )

    @admin.display(description="sale amount (cnv_amount)")
    def sale_amount(self, obj: Conversion) -> str:
        return "—" if obj.cnv_amount is None else money(obj.cnv_amount, obj.offer.currency)

    @admin.display(description="advertiser's values")
    def advertiser_values(self, obj: Conversion) -> str:
        return tracked_values(
            [
                ("cnv_user_id", obj.cnv_user_id),
                ("cnv_conversion_ip_address", obj.cnv_conversion_ip_address or ""),
            ]
            + [(f"cnv_sub_{n}", getattr(obj, f"cnv_sub_{n}")) for n in range(1, CNV_SUBS + 1)]
        )

    @admin.display(description="advertiser's user email (cnv_email)")
    def cnv_email_masked(self, obj: Conversion) -> str:
        return email_masked(obj.cnv_email)

    @admin.display(description="click time")
    def click_time(self, obj: Conversion) -> str:
        return when(obj.click.created_at)

    @admin.display(description="status changed at")
    def status_changed(self, obj: Conversion) -> str:
        return when(obj.status_changed_at)

    @admin.display(description="pending until")
    def pending_until_time(self, obj: Conversion) -> str:
        return when(obj.pending_until)

    @admin.display(description="created at")
    def created_time(self, obj: Conversion) -> str:
        return when(obj.created_at)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied(VIEW_PERMISSION_NEEDED)
        # The list has many columns: it gets the whole width (the app menu is one click away
        # in the breadcrumbs).
        extra_context = {
            "title": "Conversions",
            "is_nav_sidebar_enabled": False,
            "has_upload_permission": self.has_upload_permission(request),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context)

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return ConversionChangeList

    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        changelist = super().get_changelist_instance(request)
        changelist.gk_totals = list_totals(changelist)  # type: ignore[attr-defined]
        changelist.gk_search_fields = SEARCHED  # type: ignore[attr-defined]
        return changelist

    def get_paginator(
        self,
        request: HttpRequest,
        queryset: QuerySet[Conversion],
        per_page: int,
        orphans: int = 0,
        allow_empty_first_page: bool = True,
    ) -> LargeTablePaginator:
        return list_paginator(request, queryset, per_page)

    def get_ordering(self, request: HttpRequest) -> list[Any]:
        # A date range is read from its own index, in that index's order: the newest of the
        # range first, whatever the range (by id, an old range meant walking every newer row).
        for field in ("status_changed_at", "created_at"):
            if any(key.startswith(f"{field}__") for key in request.GET):
                return [f"-{field}", "-id"]
        return list(super().get_ordering(request))

    # -- search: exact matches on indexed columns, never a LIKE scan ------------------------
    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Conversion], search_term: str
    ) -> tuple[QuerySet[Conversion], bool]:
        """A term is a Conversion Event ID (when numeric), a gk_click_id, a transaction id or a
        partner's sub id.

        Each is an exact match on its own index; the matching ids are looked up first so the
        list query stays a primary-key lookup instead of an OR across a join.
        """
        if not search_term.strip():
            return queryset, False
        return queryset.filter(pk__in=conversion_ids_matching(term=search_term)), False

    # -- the change page: buttons and history -----------------------------------------------
    def change_page_context(
        self, request: HttpRequest, conversion: Conversion | None
    ) -> dict[str, Any]:
        """The conversion's history, and its status buttons for who may change statuses."""
        if not self.has_view_permission(request):
            raise PermissionDenied(VIEW_PERMISSION_NEEDED)
        if conversion is None:
            return {}
        context: dict[str, Any] = {
            "status_history": conversion_status_history(
                conversion_id=conversion.pk, limit=HISTORY_ROWS
            )
        }
        here = reverse("admin:conversions_conversion_change", args=[conversion.pk])
        if self.has_change_status_permission(request):
            context["status_buttons"] = [
                (label, value, status_url(conversion.pk, value, next_url=here))
                for value, label in Status.choices
                if value != conversion.status
            ]
        if conversion.click.is_test:
            context.update(self._test_conversion_context(request, conversion, here=here))
        return context

    def _test_conversion_context(
        self, request: HttpRequest, conversion: Conversion, *, here: str
    ) -> dict[str, Any]:
        """A test conversion's page: its mark, a refresh every few seconds while a callback or
        postback of it is still due (to watch them go out; for ``TEST_WATCH`` after it was
        recorded, not for the days a failing partner's retries may last), and its one-click
        rejection."""
        watched = conversion.created_at > timezone.now() - TEST_WATCH
        context: dict[str, Any] = {
            "test_conversion": True,
            "test_deliveries_due": watched
            and CallbackDelivery.objects.filter(
                conversion_id=conversion.pk, state=CallbackDelivery.State.PENDING
            ).exists(),
        }
        if conversion.status != Status.REJECTED and self.has_change_status_permission(request):
            context["test_reject_url"] = status_url(conversion.pk, Status.REJECTED, next_url=here)
            context["test_reject_reason"] = TEST_REJECTION_REASON
        return context
