"""Callback deliveries: the outbox as admins read it, every attempt, and resending.

Deliveries are written by the status-change service and updated by the delivery tasks; here
they are read-only. Resending and replaying, each after a confirmation, are
``callbacks.admin.resending``.

The list is built for millions of rows: no full COUNT (``LargeTablePaginator``), no facets,
exact searches on indexed columns (deliveries by conversion, clicks by gk_click_id, deliveries
by id), the state filter on the (state, created_at) index, the newest-first ordering and the
date filter on ``created_at``, the partner filter on ``(partner, created_at)``.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import flatten
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.defaultfilters import truncatechars
from django.urls import URLPattern, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from callbacks.admin.delivery_display import (
    delivery_state_badge,
    moment_format,
    payload_in_public_order,
)
from callbacks.admin.resending import RESENDABLE, DeliveryResendingViews
from callbacks.models import CallbackAttempt, CallbackDelivery
from callbacks.selectors import callback_delivery_search_condition
from gokart.admin_base import ChangePageContextAdmin, LargeTablePaginator, ReadOnlyAdminMixin

State = CallbackDelivery.State


class CallbackAttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
    """Every attempt of a delivery, oldest first, read-only."""

    model = CallbackAttempt
    fields = [
        "number",
        "started",
        "url",
        "latency",
        "response_status",
        "response_excerpt",
        "error",
    ]
    readonly_fields = flatten(fields)
    ordering = ["number"]
    extra = 0
    can_delete = False
    verbose_name_plural = "attempts"

    @admin.display(description="started")
    def started(self, attempt: CallbackAttempt) -> str:
        return moment_format(attempt.started_at)

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
class CallbackDeliveryAdmin(DeliveryResendingViews, ReadOnlyAdminMixin, ChangePageContextAdmin):
    change_form_template = "admin/callbacks/callbackdelivery/change_form.html"
    change_list_template = "admin/callbacks/callbackdelivery/change_list.html"
    list_display = [
        "short_id",
        "conversion_link",
        "partner",
        "kind",
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
        "kind",
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
        "kind",
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
    readonly_fields = flatten(fields)

    class Media:
        css = {"all": ["callbacks/admin.css"]}

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
        return moment_format(obj.created_at)

    @admin.display(description="delivered")
    def delivered(self, obj: CallbackDelivery) -> str:
        return moment_format(obj.delivered_at)

    @admin.display(description="state")
    def state_badge(self, obj: CallbackDelivery) -> SafeString:
        return delivery_state_badge(obj.state, attempts=obj.attempts)

    @admin.display(description="next attempt")
    def next_attempt(self, obj: CallbackDelivery) -> str:
        if obj.state == State.HELD:
            return "when the partner is resumed"
        return moment_format(obj.next_attempt_at) if obj.state == State.PENDING else "—"

    @admin.display(description="last response")
    def last_response(self, obj: CallbackDelivery) -> str:
        if obj.last_response_status is not None:
            return f"HTTP {obj.last_response_status}"
        return truncatechars(obj.last_error, 60) if obj.last_error else "—"

    @admin.display(description="payload")
    def payload_pretty(self, obj: CallbackDelivery) -> SafeString | str:
        if obj.payload is None:
            return "— (rendered when first sent)"
        if obj.kind != CallbackDelivery.Kind.CALLBACK:
            return format_html(
                '<code class="gk-payload">{}</code><div class="help">Fetched with a GET, the '
                "same URL on every attempt.</div>",
                obj.payload.get("url") or "— (the partner had no such postback)",
            )
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
        if not search_term.strip():
            return queryset, False
        return queryset.filter(callback_delivery_search_condition(term=search_term)), False

    def get_urls(self) -> list[URLPattern]:
        return [*self.resending_urls(), *super().get_urls()]

    def change_page_context(
        self, request: HttpRequest, delivery: CallbackDelivery | None
    ) -> dict[str, Any]:
        """The resend button's URL for who may resend (``None``: this one cannot be)."""
        if delivery is None or not self.has_resend_permission(request):
            return {}
        if delivery.state not in RESENDABLE:
            return {"resend_url": None}
        return {
            "resend_url": reverse("admin:callbacks_callbackdelivery_resend", args=[delivery.pk])
        }
