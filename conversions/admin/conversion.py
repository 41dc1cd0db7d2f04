"""Conversion Management: the conversion list, its status buttons, action and history.

The admin only reads and calls services: every status change goes through
``conversions.services.conversion_status_set`` with ``source=admin``, the acting user and the
reason typed on the confirmation page. Changing a status needs the custom permission
``conversions.change_conversion_status``; nothing else about a conversion is editable here
(conversions are tracked data: no add, no delete, every field read-only).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import SafeString, mark_safe

from callbacks.admin import CallbackSentListFilter, ConversionCallbackMixin
from conversions.imports.admin import ConversionImportExportMixin
from conversions.models import Conversion, Source, Status
from conversions.selectors import (
    conversion_ids_matching,
    conversion_status_counts,
    conversion_status_history,
)
from conversions.services import StatusChangeResult, conversion_status_set
from gokart.admin_base import LargeTablePaginator, ReadOnlyAdminMixin

STATUS_PERMISSION = "conversions.change_conversion_status"

# The "set status" action refuses larger selections: a change that big belongs in a bulk
# import, with its preview of what will change.
ACTION_MAX_CONVERSIONS = 10_000

# Shown on the status page of one conversion: enough to see how it got where it is.
HISTORY_ROWS = 200

CENTS = Decimal("0.01")

REASON_FIELD = forms.CharField(
    required=False,
    max_length=1000,
    widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
    help_text="Optional. Kept in the status history and sent to the partner as the "
    "rejection reason on Rejected.",
)


class StatusReasonForm(forms.Form):
    """The confirmation of one conversion's new status (the status is in the URL)."""

    reason = REASON_FIELD


class StatusActionForm(forms.Form):
    """The confirmation page of the "Set status of selected conversions" action."""

    status = forms.ChoiceField(choices=Status.choices, widget=forms.RadioSelect, label="New status")
    reason = REASON_FIELD


def status_badge(status: str) -> SafeString:
    """A status as a coloured badge (styles in ``static/conversions/admin.css``)."""
    return format_html(
        '<span class="gk-status gk-status-{}">{}</span>', status, Status(status).label
    )


def money(amount: Decimal, currency: str) -> str:
    """An amount with its currency: "1.50 USD", keeping sub-cent digits when there are any."""
    cents = amount.quantize(CENTS)
    return f"{cents if amount == cents else amount.normalize()} {currency}"


def short_time(value: datetime) -> str:
    """A timestamp in the admin's time zone, to the minute: "2026-11-24 20:53"."""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


def _plural(count: int, word: str = "conversion") -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")


@admin.register(Conversion)
class ConversionAdmin(
    ConversionImportExportMixin, ConversionCallbackMixin, ReadOnlyAdminMixin, admin.ModelAdmin
):
    change_form_template = "admin/conversions/conversion/change_form.html"
    list_display = [
        "id",
        "gk_click_id",
        "offer",
        "event",
        "partner",
        "status_badge",
        "payout_amount",
        "revenue_amount",
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
        # Today / past 7 days / this month / this year: one indexed range, unlike
        # date_hierarchy, which aggregates the distinct dates of the whole table.
        ("created_at", admin.DateFieldListFilter),
        CallbackSentListFilter,
    ]
    # Sorting by any other column would sort the whole table; these read an index.
    sortable_by = ["id", "status_badge", "created"]
    # Only shows the search box: the search itself is get_search_results (exact matches).
    search_fields = ["=id"]
    search_help_text = "Exact Conversion Event ID, gk_click_id or advertiser transaction id."
    list_per_page = 100
    empty_value_display = "—"  # (the site's default is a lazy translation, resolved per cell)
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # facet counts aggregate the whole table
    paginator = LargeTablePaginator
    actions = ["set_status_action"]
    fields = [
        "id",
        "click_gk_click_id",
        "offer",
        "offer_event",
        "partner",
        "sub_id",
        "click_time",
        "status_badge",
        "status_reason",
        "status_source",
        "status_changed_at",
        "status_version",
        "pending_until",
        "payout_amount",
        "revenue_amount",
        "transaction_id",
        "created_at",
    ]
    readonly_fields = fields

    class Media:
        css = {"all": ["conversions/admin.css"]}

    # -- permissions: read-only (ReadOnlyAdminMixin); the status has its own permission -----
    def has_change_status_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request) and request.user.has_perm(STATUS_PERMISSION)

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

    @admin.display(description="event")
    def event(self, obj: Conversion) -> str:
        return obj.offer_event.name

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Conversion) -> SafeString:
        return status_badge(obj.status)

    @admin.display(description="payout")
    def payout_amount(self, obj: Conversion) -> str:
        return money(obj.payout, obj.offer.currency)

    @admin.display(description="revenue")
    def revenue_amount(self, obj: Conversion) -> str:
        return money(obj.revenue, obj.offer.currency)

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: Conversion) -> SafeString:
        date, time = short_time(obj.created_at).split()
        return format_html('{}<br><span class="gk-quiet">{}</span>', date, time)

    @admin.display(description="last status change")
    def last_status_change(self, obj: Conversion) -> SafeString:
        date, time = short_time(obj.status_changed_at).split()
        return format_html(
            '{}<br><span class="gk-quiet">{} · {}</span>',
            date,
            time,
            obj.get_status_source_display(),
        )

    @admin.display(description="partner's user/sub id")
    def sub_id(self, obj: Conversion) -> str:
        return obj.click.sub_id

    @admin.display(description="click time")
    def click_time(self, obj: Conversion) -> str:
        return date_format(timezone.localtime(obj.click.created_at), "DATETIME_FORMAT")

    def get_list_display(self, request: HttpRequest) -> list[Any]:
        columns = list(super().get_list_display(request))
        if self.has_change_status_permission(request):
            columns.append(self._set_status_column(next_url=request.get_full_path()))
        return columns

    @staticmethod
    def _set_status_column(*, next_url: str) -> Callable[[Conversion], SafeString]:
        """The row buttons: a link per other status, each to a confirmation page."""
        # Built once per page rather than reversed per button (200 per page).
        changelist = reverse("admin:conversions_conversion_changelist")
        back = urlencode({"next": next_url})

        @admin.display(description="set status")
        def set_status(obj: Conversion) -> SafeString:
            return format_html_join(
                " ",
                '<a class="button gk-set gk-set-{}" href="{}{}/status/{}/?{}">{}</a>',
                (
                    (value, changelist, obj.pk, value, back, label)
                    for value, label in Status.choices
                    if value != obj.status
                ),
            )

        return set_status

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # The list has many columns: it gets the whole width (the app menu is one click away
        # in the breadcrumbs).
        extra_context = {
            "title": "Conversions",
            "is_nav_sidebar_enabled": False,
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context)

    # -- search: exact matches on indexed columns, never a LIKE scan ------------------------
    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Conversion], search_term: str
    ) -> tuple[QuerySet[Conversion], bool]:
        """A term is a Conversion Event ID (when numeric), a gk_click_id or a transaction id.

        Each is an exact match on its own index; the matching ids are looked up first so the
        list query stays a primary-key lookup instead of an OR across a join.
        """
        if not search_term.strip():
            return queryset, False
        return queryset.filter(pk__in=conversion_ids_matching(term=search_term)), False

    # -- one conversion: the row and change-page buttons ------------------------------------
    def get_urls(self) -> list[URLPattern]:
        status_urls = [
            path(
                "<int:object_id>/status/<str:status>/",
                self.admin_site.admin_view(self.status_view),
                name="conversions_conversion_status",
            ),
        ]
        return status_urls + super().get_urls()

    def status_view(self, request: HttpRequest, object_id: int, status: str) -> HttpResponse:
        """GET: confirm setting one conversion's status, with a reason. POST: set it."""
        if not self.has_change_status_permission(request):
            raise PermissionDenied
        if status not in Status.values:
            raise Http404(f"Unknown status {status!r}.")
        conversion = get_object_or_404(
            Conversion.objects.select_related("click", "offer", "offer_event", "partner"),
            pk=object_id,
        )
        next_url = self._next_url(request)
        form = StatusReasonForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            result = conversion_status_set(
                conversion_ids=[conversion.pk],
                status=status,
                source=Source.ADMIN,
                user=request.user,
                reason=form.cleaned_data["reason"],
            )
            label = Status(status).label
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
            "opts": self.opts,
            "media": self.media,
            "conversion": conversion,
            "status": status,
            "status_label": Status(status).label,
            "current_badge": status_badge(conversion.status),
            "new_badge": status_badge(status),
            "payout": money(conversion.payout, conversion.offer.currency),
            "form": form,
            "next_url": next_url,
        }
        return TemplateResponse(
            request, "admin/conversions/conversion/status_confirmation.html", context
        )

    def _next_url(self, request: HttpRequest) -> str:
        next_url = request.POST.get("next") or request.GET.get("next") or ""
        if next_url and url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return next_url
        return reverse("admin:conversions_conversion_changelist")

    # -- many conversions: the changelist action --------------------------------------------
    @admin.action(description="Set status of selected conversions", permissions=["change_status"])
    def set_status_action(
        self, request: HttpRequest, queryset: QuerySet[Conversion]
    ) -> HttpResponse | None:
        """First POST: the confirmation page (status and reason). Its POST ("apply"): set it."""
        ids = list(queryset.order_by().values_list("pk", flat=True)[: ACTION_MAX_CONVERSIONS + 1])
        if len(ids) > ACTION_MAX_CONVERSIONS:
            self.message_user(
                request,
                f"More than {ACTION_MAX_CONVERSIONS:,} conversions selected: narrow the filter, "
                "or use Import to change them in bulk with a preview.",
                messages.ERROR,
            )
            return None
        form = StatusActionForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            status = form.cleaned_data["status"]
            result = conversion_status_set(
                conversion_ids=ids,
                status=status,
                source=Source.ADMIN,
                user=request.user,
                reason=form.cleaned_data["reason"],
            )
            self.message_user(request, _action_message(result, selected=len(ids), status=status))
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Set the status of the selected conversions",
            "opts": self.opts,
            "media": self.media,
            "count": len(ids),
            "count_label": _plural(len(ids)),
            "statuses": _status_counts(ids),
            "form": form,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            # Posted back as they came: the selected rows of the page, or "all matching the
            # filters" (select_across), which the list's query string still carries.
            "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
        }
        return TemplateResponse(
            request, "admin/conversions/conversion/status_action_confirmation.html", context
        )

    # -- the change page: buttons and history -----------------------------------------------
    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra_context = dict(extra_context or {})
        conversion = self.get_object(request, object_id)
        if conversion is not None:
            extra_context["status_history"] = conversion_status_history(
                conversion_id=conversion.pk, limit=HISTORY_ROWS
            )
            if self.has_change_status_permission(request):
                here = reverse("admin:conversions_conversion_change", args=[conversion.pk])
                extra_context["status_buttons"] = [
                    (label, value, status_url(conversion.pk, value, next_url=here))
                    for value, label in Status.choices
                    if value != conversion.status
                ]
        return super().change_view(request, object_id, form_url, extra_context)


def status_url(conversion_id: int, status: str, *, next_url: str) -> str:
    """The confirmation page that sets one conversion's status, returning to ``next_url``."""
    url = reverse("admin:conversions_conversion_status", args=[conversion_id, status])
    return f"{url}?{urlencode({'next': next_url})}"


def _status_counts(ids: list[int]) -> list[tuple[SafeString, int]]:
    """How many of the selected conversions are in each status now (for the confirmation)."""
    counts = conversion_status_counts(conversion_ids=ids)
    return [(status_badge(value), count) for value, count in counts.items()]


def _action_message(result: StatusChangeResult, *, selected: int, status: str) -> str:
    label = Status(status).label
    unchanged = selected - result.changed
    message = f"{_plural(result.changed)} set to {label}."
    if unchanged:
        message += f" {_plural(unchanged)} already {label}, left as is."
    return message
