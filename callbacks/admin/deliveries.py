"""Callback deliveries: the outbox as admins read it, every attempt, and resending.

Deliveries are written by the status-change service and updated by the delivery tasks; here
they are read-only. Resending (the changelist action and the change page's button) calls
``callbacks.services.callback_deliveries_resend``: the same delivery, so the same callback id
for the partner to dedupe on, becomes due again and gets a new attempt. It needs the
``callbacks.change_callbackdelivery`` permission.

The list is built for millions of rows: no full COUNT (``LargeTablePaginator``), no facets,
exact searches on indexed columns (deliveries by conversion, clicks by gk_click_id, deliveries
by id), the state filter on the (state, created_at) index, the newest-first ordering and the
date filter on ``created_at``, the partner filter on ``(partner, created_at)``.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from datetime import datetime
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import truncatechars
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timezone import localtime

from callbacks import services as callback_services
from callbacks.models import CallbackAttempt, CallbackDelivery
from conversions.selectors import conversion_ids_of_click
from gokart.admin_base import LargeTablePaginator, ReadOnlyAdminMixin

RESEND_PERMISSION = "callbacks.change_callbackdelivery"

# The resend action refuses larger selections (select-across on a filtered list of millions).
RESEND_MAX_DELIVERIES = 10_000

State = CallbackDelivery.State
RESENDABLE = {State.FAILED, State.DELIVERED}

# The payload's keys in the order of the public interface (PostgreSQL's jsonb reorders them).
_PAYLOAD_ORDER = ["id", "sentAt", "conversion"]
_CONVERSION_ORDER = [
    "status",
    "rejectionReason",
    "conversionId",
    "clickId",
    "offerId",
    "offerName",
    "eventId",
    "eventName",
    "payout",
    "revenue",
    "currency",
    "pubSub",
    "sequenceNumber",
    "createdAt",
    "clickTime",
]

_SENT_WORDING = {State.DELIVERED: "Sent", State.PENDING: "Pending", State.FAILED: "Failed"}


def delivery_state_badge(state: str | None, *, sent_wording: bool = False) -> SafeString:
    """A delivery state as a coloured badge; ``None`` (no callback owed) as a dash.

    ``sent_wording`` reads "Sent" for delivered, as the conversion list's column does.
    """
    if not state:
        return format_html('<span class="gk-callback-none" title="{}">—</span>', "No callback owed")
    label = _SENT_WORDING[State(state)] if sent_wording else State(state).label
    return format_html('<span class="gk-callback gk-callback-{}">{}</span>', state, label)


def _ordered(value: dict[str, Any], order: list[str]) -> dict[str, Any]:
    rank = {key: position for position, key in enumerate(order)}
    return dict(sorted(value.items(), key=lambda item: (rank.get(item[0], len(rank)), item[0])))


def payload_in_public_order(payload: dict[str, Any]) -> dict[str, Any]:
    """The stored payload with its keys in the order the public interface lists them."""
    ordered = _ordered(payload, _PAYLOAD_ORDER)
    if isinstance(ordered.get("conversion"), dict):
        ordered["conversion"] = _ordered(ordered["conversion"], _CONVERSION_ORDER)
    return ordered


def _moment(moment: datetime | None) -> str:
    """A time to the second, in the site's time zone: attempts minutes apart must differ."""
    return localtime(moment).strftime("%Y-%m-%d %H:%M:%S %Z") if moment else "—"


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")


class CallbackAttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
    """Every attempt of a delivery, oldest first, read-only."""

    model = CallbackAttempt
    fields = ["number", "started", "latency", "response_status", "response_excerpt", "error"]
    readonly_fields = fields
    ordering = ["number"]
    extra = 0
    can_delete = False
    verbose_name_plural = "attempts"

    @admin.display(description="started")
    def started(self, attempt: CallbackAttempt) -> str:
        return _moment(attempt.started_at)

    @admin.display(description="latency")
    def latency(self, attempt: CallbackAttempt) -> str:
        return "—" if attempt.duration_ms is None else f"{attempt.duration_ms:,} ms"

    @admin.display(description="response")
    def response_excerpt(self, attempt: CallbackAttempt) -> SafeString | str:
        body = attempt.response_body
        if not body:
            return "—"
        if len(body) <= 80:
            return format_html('<code class="gk-response">{}</code>', body)
        return format_html(
            '<details class="gk-response"><summary><code>{}</code></summary><pre>{}</pre>'
            "</details>",
            truncatechars(body, 80),
            body,
        )


@admin.register(CallbackDelivery)
class CallbackDeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    change_form_template = "admin/callbacks/callbackdelivery/change_form.html"
    list_display = [
        "short_id",
        "conversion_link",
        "partner",
        "sequence",
        "state_badge",
        "attempts",
        "next_attempt",
        "last_response",
        "created",
        "delivered",
    ]
    list_display_links = ["short_id"]
    list_select_related = ["partner"]
    list_filter = [
        "state",
        "partner",
        # One indexed range per choice, unlike date_hierarchy's distinct dates of the table.
        ("created_at", admin.DateFieldListFilter),
    ]
    ordering = ["-created_at"]
    sortable_by = ["created"]
    search_fields = ["=id"]  # shows the box; the search itself is get_search_results
    search_help_text = "Exact Conversion Event ID, gk_click_id or callback id."
    list_per_page = 100
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = LargeTablePaginator
    actions = ["resend_action"]
    inlines = [CallbackAttemptInline]
    fields = [
        "id",
        "conversion_link",
        "partner",
        "sequence_number",
        "state_badge",
        "attempts",
        "next_attempt",
        "last_response_status",
        "last_error",
        "created",
        "delivered",
        "payload_pretty",
    ]
    readonly_fields = fields

    class Media:
        css = {"all": ["callbacks/admin.css"]}

    # -- permissions: read-only; the change permission means "may resend" ------------------
    def has_resend_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request) and request.user.has_perm(RESEND_PERMISSION)

    # -- columns ----------------------------------------------------------------------------
    @admin.display(description="id")
    def short_id(self, obj: CallbackDelivery) -> SafeString:
        return format_html('<code title="{}">{}…</code>', obj.pk, str(obj.pk)[:8])

    @admin.display(description="conversion")
    def conversion_link(self, obj: CallbackDelivery) -> SafeString:
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:conversions_conversion_change", args=[obj.conversion_id]),
            obj.conversion_id,
        )

    @admin.display(description="seq.")
    def sequence(self, obj: CallbackDelivery) -> int:
        return obj.sequence_number

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: CallbackDelivery) -> str:
        return _moment(obj.created_at)

    @admin.display(description="delivered")
    def delivered(self, obj: CallbackDelivery) -> str:
        return _moment(obj.delivered_at)

    @admin.display(description="state")
    def state_badge(self, obj: CallbackDelivery) -> SafeString:
        return delivery_state_badge(obj.state)

    @admin.display(description="next attempt")
    def next_attempt(self, obj: CallbackDelivery) -> str:
        return _moment(obj.next_attempt_at) if obj.state == State.PENDING else "—"

    @admin.display(description="last response")
    def last_response(self, obj: CallbackDelivery) -> str:
        if obj.last_response_status is not None:
            return f"HTTP {obj.last_response_status}"
        return truncatechars(obj.last_error, 60) if obj.last_error else "—"

    @admin.display(description="payload")
    def payload_pretty(self, obj: CallbackDelivery) -> SafeString | str:
        if obj.payload is None:
            return "— (rendered when first sent)"
        return format_html(
            '<pre class="gk-payload">{}</pre><div class="help">Each attempt adds its own '
            "<code>sentAt</code> (the signed <code>webhook-timestamp</code>).</div>",
            json.dumps(payload_in_public_order(obj.payload), indent=2, default=str),
        )

    # -- search: exact matches on indexed columns, never a LIKE scan ------------------------
    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[CallbackDelivery], search_term: str
    ) -> tuple[QuerySet[CallbackDelivery], bool]:
        """A term is a Conversion Event ID (numeric), a gk_click_id or a callback id (UUID).

        Each is an exact match on an index: deliveries by (conversion, sequence), clicks by
        gk_click_id, deliveries by primary key.
        """
        term = search_term.strip()
        if not term:
            return queryset, False
        conversion_ids = conversion_ids_of_click(gk_click_id=term)
        if term.isascii() and term.isdigit() and len(term) < 19:
            conversion_ids.add(int(term))
        condition = Q(conversion_id__in=conversion_ids)
        with contextlib.suppress(ValueError):
            condition |= Q(pk=uuid.UUID(term))
        return queryset.filter(condition), False

    # -- resending --------------------------------------------------------------------------
    @admin.action(description="Resend selected callbacks", permissions=["resend"])
    def resend_action(
        self, request: HttpRequest, queryset: QuerySet[CallbackDelivery]
    ) -> HttpResponse | None:
        """Failed and delivered ones become due again (same id, new attempt); pending ones are
        already on their way and are left alone."""
        rows = list(queryset.order_by().values_list("pk", "state")[: RESEND_MAX_DELIVERIES + 1])
        if len(rows) > RESEND_MAX_DELIVERIES:
            self.message_user(
                request,
                f"More than {RESEND_MAX_DELIVERIES:,} callbacks selected: narrow the filter "
                "(partner, state, date) and resend in parts.",
                messages.ERROR,
            )
            return None
        resendable = [pk for pk, state in rows if state in RESENDABLE]
        resent = (
            callback_services.callback_deliveries_resend(delivery_ids=resendable, user=request.user)
            if resendable
            else 0
        )
        skipped = len(rows) - resent
        if resent:
            message = f"{_plural(resent, 'callback')} queued for resending (same id, new attempt)."
            if skipped:
                message += f" {_plural(skipped, 'callback')} still pending, left as is."
            self.message_user(request, message)
        else:
            self.message_user(
                request,
                "Nothing resent: only failed or delivered callbacks can be resent; pending ones "
                "are already being delivered.",
                messages.WARNING,
            )
        return None

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # Django would answer a forged action POST with "No action selected"; say what it is.
        if (
            request.method == "POST"
            and request.POST.get("action") == "resend_action"
            and not self.has_resend_permission(request)
        ):
            raise PermissionDenied
        return super().changelist_view(request, extra_context)

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<path:object_id>/resend/",
                self.admin_site.admin_view(self.resend_view),
                name="callbacks_callbackdelivery_resend",
            ),
            *super().get_urls(),
        ]

    def resend_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST (the change page's button): resend this one delivery."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_resend_permission(request):
            raise PermissionDenied
        try:
            pk = uuid.UUID(object_id)
        except ValueError:
            pk = None
        delivery = get_object_or_404(CallbackDelivery, pk=pk)
        change_url = reverse("admin:callbacks_callbackdelivery_change", args=[delivery.pk])
        if delivery.state not in RESENDABLE:
            self.message_user(
                request,
                "This callback is still pending: it is already being delivered "
                f"(next attempt {delivery.next_attempt_at:%Y-%m-%d %H:%M:%S %Z}).",
                messages.WARNING,
            )
            return HttpResponseRedirect(change_url)
        resent = callback_services.callback_deliveries_resend(
            delivery_ids=[delivery.pk], user=request.user
        )
        if resent:
            self.message_user(
                request,
                f"Callback {delivery.pk} queued for resending: attempt {delivery.attempts + 1} "
                "with the same id.",
            )
        else:
            self.message_user(
                request, "The callback changed meanwhile and was not resent.", messages.WARNING
            )
        return HttpResponseRedirect(change_url)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra_context = dict(extra_context or {})
        delivery = self.get_object(request, object_id)
        if delivery is not None and self.has_resend_permission(request):
            extra_context["resend_url"] = (
                reverse("admin:callbacks_callbackdelivery_resend", args=[delivery.pk])
                if delivery.state in RESENDABLE
                else None
            )
        return super().change_view(request, object_id, form_url, extra_context)
