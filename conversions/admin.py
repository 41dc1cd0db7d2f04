"""Conversion Management and the admin pages of offers and clicks.

Admin classes only read and call services: every status change goes through
``conversions.services.conversion_status_set``.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme, urlencode

from callbacks.admin import CallbackSentListFilter, ConversionCallbackMixin
from conversions.imports.admin import ConversionImportExportMixin
from conversions.models import Click, Conversion, Offer, OfferEvent, Source, Status, StatusChange
from conversions.services import conversion_status_set

# The "set status" action refuses larger selections: a change that big belongs in a bulk import,
# with its preview.
ACTION_MAX_CONVERSIONS = 10_000


class LargeTablePaginator(Paginator):
    """A paginator that never counts a whole large table.

    Unfiltered, PostgreSQL's planner estimate (``pg_class.reltuples``) stands in for COUNT(*);
    filtered, counting stops at ``COUNT_CAP`` rows (enough for page 1,000 of 100).
    """

    COUNT_CAP = 100_000

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return len(queryset)
        if connection.vendor == "postgresql" and not queryset.query.where:
            estimate = _estimated_rows(queryset.model._meta.db_table)
            if estimate > self.COUNT_CAP:
                return estimate
        return queryset.order_by()[: self.COUNT_CAP].count()


def _estimated_rows(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [table])
        row = cursor.fetchone()
    return max(int(row[0]), 0) if row else 0


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=Status.choices)
    reason = forms.CharField(
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Optional. Kept in the status history and sent to the partner on Rejected.",
    )


def status_badge(status: str) -> str:
    return format_html(
        '<span class="gk-status gk-status-{}">{}</span>', status, Status(status).label
    )


@admin.register(Conversion)
class ConversionAdmin(ConversionImportExportMixin, ConversionCallbackMixin, admin.ModelAdmin):
    change_form_template = "admin/conversions/conversion/change_form.html"
    list_display = [
        "id",
        "gk_click_id",
        "offer",
        "event",
        "partner",
        "status_badge",
        "payout",
        "revenue",
        "created_at",
        "status_changed_at",
        "status_source",
        "callback_sent",
    ]
    list_display_links = ["id"]
    list_select_related = ["click", "offer", "offer_event", "partner"]
    list_filter = [
        "status",
        "offer",
        "partner",
        "status_source",
        ("created_at", admin.DateFieldListFilter),
        CallbackSentListFilter,
    ]
    search_fields = ["=id"]  # shows the search box; the search itself is get_search_results
    search_help_text = "Exact Conversion Event ID, gk_click_id or advertiser transaction id."
    list_per_page = 100
    show_full_result_count = False
    paginator = LargeTablePaginator
    actions = ["set_status_action"]
    fields = [
        "id",
        "gk_click_id",
        "offer",
        "offer_event",
        "partner",
        "sub_id",
        "status_badge",
        "status_reason",
        "status_source",
        "status_changed_at",
        "status_version",
        "pending_until",
        "payout",
        "revenue",
        "transaction_id",
        "created_at",
        "click_time",
    ]
    readonly_fields = fields

    class Media:
        css = {"all": ["conversions/admin.css"]}

    # -- permissions: conversions are tracked data; only their status changes, by permission --
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Conversion | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Conversion | None = None) -> bool:
        return False

    def has_change_status_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("conversions.change_conversion_status")

    # -- columns ------------------------------------------------------------------------------
    @admin.display(description="gk_click_id", ordering="click__gk_click_id")
    def gk_click_id(self, obj: Conversion) -> str:
        return obj.click.gk_click_id

    @admin.display(description="event", ordering="offer_event__name")
    def event(self, obj: Conversion) -> str:
        return obj.offer_event.name

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Conversion) -> str:
        return status_badge(obj.status)

    @admin.display(description="partner's sub id")
    def sub_id(self, obj: Conversion) -> str:
        return obj.click.sub_id

    @admin.display(description="click time")
    def click_time(self, obj: Conversion):
        return obj.click.created_at

    def get_list_display(self, request: HttpRequest):
        columns = list(super().get_list_display(request))
        if self.has_change_status_permission(request):
            columns.append(self._set_status_column(next_url=request.get_full_path()))
        return columns

    @staticmethod
    def _set_status_column(*, next_url: str):
        """The row buttons: one link per other status, to a confirmation page."""

        @admin.display(description="set status")
        def set_status(obj: Conversion) -> str:
            return format_html_join(
                " ",
                '<a class="button gk-set gk-set-{}" href="{}?{}">{}</a>',
                (
                    (
                        value,
                        reverse("admin:conversions_conversion_status", args=[obj.pk, value]),
                        urlencode({"next": next_url}),
                        label,
                    )
                    for value, label in Status.choices
                    if value != obj.status
                ),
            )

        return set_status

    # -- search: exact matches on indexed columns, never a LIKE scan -------------------------
    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        term = search_term.strip()
        if not term:
            return queryset, False
        ids: set[int] = set()
        if term.isascii() and term.isdigit() and len(term) < 19:
            ids.add(int(term))
        ids.update(
            Conversion.objects.filter(click__gk_click_id=term).values_list("pk", flat=True)[:1000]
        )
        ids.update(
            Conversion.objects.filter(transaction_id=term)
            .exclude(transaction_id="")
            .values_list("pk", flat=True)[:1000]
        )
        return queryset.filter(pk__in=ids), False

    # -- status changes -------------------------------------------------------------------------
    def get_urls(self):
        urls = [
            path(
                "<int:object_id>/status/<str:status>/",
                self.admin_site.admin_view(self.status_view),
                name="conversions_conversion_status",
            ),
        ]
        return urls + super().get_urls()

    def status_view(self, request: HttpRequest, object_id: int, status: str) -> HttpResponse:
        """Confirm, then set one conversion's status (the row and change-page buttons)."""
        if not self.has_change_status_permission(request):
            raise PermissionDenied
        conversion = get_object_or_404(
            Conversion.objects.select_related("click", "offer", "offer_event", "partner"),
            pk=object_id,
        )
        if status not in Status.values:
            raise PermissionDenied
        next_url = request.GET.get("next") or request.POST.get("next") or ""
        if not url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            next_url = ""
        next_url = next_url or reverse("admin:conversions_conversion_changelist")
        form = StatusForm(request.POST or None, initial={"status": status})
        if request.method == "POST" and form.is_valid():
            result = conversion_status_set(
                conversion_ids=[conversion.pk],
                status=form.cleaned_data["status"],
                source=Source.ADMIN,
                user=request.user,
                reason=form.cleaned_data["reason"],
            )
            label = Status(form.cleaned_data["status"]).label
            if result.changed:
                self.message_user(request, f"Conversion {conversion.pk} set to {label}.")
            else:
                self.message_user(
                    request, f"Conversion {conversion.pk} was already {label}.", messages.WARNING
                )
            return HttpResponseRedirect(next_url)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Set conversion {conversion.pk} to {Status(status).label}?",
            "opts": self.model._meta,
            "conversion": conversion,
            "status": status,
            "status_label": Status(status).label,
            "current_badge": status_badge(conversion.status),
            "new_badge": status_badge(status),
            "form": form,
            "next_url": next_url,
        }
        return TemplateResponse(
            request, "admin/conversions/conversion/status_confirmation.html", context
        )

    @admin.action(description="Set status of selected conversions", permissions=["change_status"])
    def set_status_action(self, request: HttpRequest, queryset: QuerySet):
        ids = list(queryset.order_by().values_list("pk", flat=True)[: ACTION_MAX_CONVERSIONS + 1])
        if len(ids) > ACTION_MAX_CONVERSIONS:
            self.message_user(
                request,
                f"More than {ACTION_MAX_CONVERSIONS:,} conversions selected: narrow the filter, "
                "or use Import to change them in bulk with a preview.",
                messages.ERROR,
            )
            return None
        form = StatusForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            result = conversion_status_set(
                conversion_ids=ids,
                status=form.cleaned_data["status"],
                source=Source.ADMIN,
                user=request.user,
                reason=form.cleaned_data["reason"],
            )
            label = Status(form.cleaned_data["status"]).label
            unchanged = len(ids) - result.changed
            self.message_user(
                request,
                f"{result.changed} conversion(s) set to {label}"
                + (f"; {unchanged} already {label}." if unchanged else "."),
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Set the status of the selected conversions",
            "opts": self.model._meta,
            "count": len(ids),
            "ids": ids,
            "form": form,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "select_across": request.POST.get("select_across", "0"),
            "preserved": [
                (key, value)
                for key in request.POST
                if key not in {"action", ACTION_CHECKBOX_NAME, "select_across", "index"}
                and not key.startswith(("status", "reason", "apply", "csrf"))
                for value in request.POST.getlist(key)
            ],
        }
        return TemplateResponse(
            request, "admin/conversions/conversion/status_action_confirmation.html", context
        )

    # -- change page: buttons and history --------------------------------------------------
    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        obj = self.get_object(request, object_id)
        if obj is not None:
            extra_context["status_history"] = (
                StatusChange.objects.filter(conversion_id=obj.pk)
                .select_related("user", "import_job")
                .order_by("-sequence_number")[:200]
            )
            if self.has_change_status_permission(request):
                extra_context["status_buttons"] = [
                    (
                        label,
                        value,
                        reverse("admin:conversions_conversion_status", args=[obj.pk, value])
                        + "?next="
                        + reverse("admin:conversions_conversion_change", args=[obj.pk]),
                    )
                    for value, label in Status.choices
                    if value != obj.status
                ]
        return super().change_view(request, object_id, form_url, extra_context)


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
    search_fields = ["name", "advertiser"]
    inlines = [OfferEventInline]
    readonly_fields = ["created_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_event_count=Count("events"))

    @admin.display(description="events", ordering="_event_count")
    def event_count(self, obj: Offer) -> int:
        return obj._event_count


@admin.register(Click)
class ClickAdmin(admin.ModelAdmin):
    list_display = ["gk_click_id", "offer", "partner", "sub_id", "created_at"]
    list_select_related = ["offer", "partner"]
    list_filter = ["offer", "partner"]
    search_fields = ["=gk_click_id"]
    search_help_text = "Exact gk_click_id."
    show_full_result_count = False
    paginator = LargeTablePaginator
    raw_id_fields = ["offer", "partner"]
    readonly_fields = ["gk_click_id", "offer", "partner", "sub_id", "ip_address", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Click | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Click | None = None) -> bool:
        return False
