"""Resending and replaying callbacks from the deliveries admin, each after a confirmation.

- **Resend selected** (the list's action) and **Resend** (a delivery's button): a confirmation
  page says how many will be sent again and warns when a partner's endpoint is still failing or
  the partner is paused; confirmed, ``callbacks.services.callback_deliveries_resend`` makes them
  due again under the same ids. Which ones can be resent is the service's rule
  (``callback_deliveries_resendable``): the counts, the confirmation and the button read it.
- **Replay what this list shows** (and a partner page's time range): the confirmation counts
  the Failed and Delivered callbacks of the current filter; confirmed, one Celery task
  (``callback_deliveries_replay_run``, given the filter, never objects) replays them set-based.

All of it needs the ``callbacks.change_callbackdelivery`` permission.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.http import urlencode

from callbacks import services as callback_services
from callbacks.admin.delivery_display import moment_format, plural
from callbacks.health import partners_health
from callbacks.models import CallbackDelivery, Partner
from callbacks.replay import ReplaySelection, replay_deliveries
from callbacks.tasks import callback_deliveries_replay_run

RESEND_PERMISSION = "callbacks.change_callbackdelivery"

# The resend action refuses larger selections (select-across on a filtered list of millions):
# "Replay what this list shows" is the background job for those.
RESEND_MAX_DELIVERIES = 10_000

# The service's rule, named here too for the change page's Resend button (admin/deliveries.py).
RESENDABLE = callback_services.RESENDABLE_STATES


def partner_endpoint_warnings(partner_ids: list[int]) -> list[str]:
    """What an admin should know before resending to these partners: paused, or failing."""
    warnings = []
    health = partners_health(partner_ids=partner_ids)
    for partner in Partner.objects.filter(pk__in=partner_ids).order_by("name"):
        if partner.paused_at is not None:
            warnings.append(
                f"{partner} is paused (since {moment_format(partner.paused_at)}): what is resent "
                "is held until it is resumed."
            )
        elif partner.failed_attempts_in_a_row:
            row = health[partner.pk]
            reason = f" Last: {row.last_failure_reason}" if row.last_failure_reason else ""
            failures = plural(partner.failed_attempts_in_a_row, "attempt")
            warnings.append(
                f"{partner}'s endpoint is still failing: {failures} failed in a row since "
                f"{moment_format(partner.failing_since)}.{reason}"
            )
    return warnings


def _by_partner(deliveries: QuerySet[CallbackDelivery]) -> list[dict[str, Any]]:
    rows = deliveries.order_by().values("partner_id", "partner__name").annotate(count=Count("pk"))
    return sorted((dict(row) for row in rows), key=lambda row: row["partner__name"])


class DeliveryResendingViews(admin.ModelAdmin):
    """Mixed into ``CallbackDeliveryAdmin`` first: the resend action, button and replay."""

    def has_resend_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request) and request.user.has_perm(RESEND_PERMISSION)

    def resending_urls(self) -> list[URLPattern]:
        return [
            path(
                "replay/",
                self.admin_site.admin_view(self.replay_view),
                name="callbacks_callbackdelivery_replay",
            ),
            path(
                "<path:object_id>/resend/",
                self.admin_site.admin_view(self.resend_view),
                name="callbacks_callbackdelivery_resend",
            ),
        ]

    def _confirmation(
        self, request: HttpRequest, *, title: str, context: dict[str, Any]
    ) -> TemplateResponse:
        return TemplateResponse(
            request,
            "admin/callbacks/callbackdelivery/resend_confirmation.html",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "opts": self.opts,
                "media": self.media,
                **context,
            },
        )

    @admin.action(description="Resend selected callbacks", permissions=["resend"])
    def resend_action(
        self, request: HttpRequest, queryset: QuerySet[CallbackDelivery]
    ) -> HttpResponse | None:
        """Confirm, then make the failed and delivered ones due again (same id, new attempt);
        pending and held ones are already on their way and are left alone."""
        selected = list(
            queryset.order_by().values_list("pk", flat=True)[: RESEND_MAX_DELIVERIES + 1]
        )
        if len(selected) > RESEND_MAX_DELIVERIES:
            self.message_user(
                request,
                f"More than {RESEND_MAX_DELIVERIES:,} callbacks selected: use “Replay what this "
                "list shows”, or narrow the filter (partner, state, date).",
                messages.ERROR,
            )
            return None
        resendable_deliveries = callback_services.callback_deliveries_resendable(
            CallbackDelivery.objects.filter(pk__in=selected)
        )
        rows = list(resendable_deliveries.order_by().values_list("pk", "partner_id"))
        resendable = [pk for pk, _ in rows]
        skipped = len(selected) - len(resendable)
        if not resendable:
            self.message_user(
                request,
                "Nothing resent: only failed or delivered callbacks can be resent; due, retrying "
                "and held ones are already on their way.",
                messages.WARNING,
            )
            return None
        if request.POST.get("post") != "yes":
            return self._confirmation(
                request,
                title="Resend these callbacks?",
                context={
                    "count": len(resendable),
                    "skipped": skipped,
                    "by_partner": _by_partner(resendable_deliveries),
                    "warnings": partner_endpoint_warnings(sorted({partner for _, partner in rows})),
                    "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                    "selected": [str(pk) for pk in selected],
                    "select_across": request.POST.get("select_across", "0"),
                    "action": "resend_action",
                    "cancel_url": request.get_full_path(),
                },
            )
        resent = callback_services.callback_deliveries_resend(
            delivery_ids=resendable, user=request.user
        )
        message = f"{plural(resent, 'callback')} queued for resending (same id, new attempt)."
        if skipped:
            message += f" {plural(skipped, 'callback')} already on their way, left as is."
        self.message_user(request, message)
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
        extra_context = dict(extra_context or {})
        if self.has_resend_permission(request):
            query = request.GET.urlencode()
            extra_context["replay_url"] = reverse("admin:callbacks_callbackdelivery_replay") + (
                f"?{query}" if query else ""
            )
        return super().changelist_view(request, extra_context)

    def resend_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The change page's button: GET confirms, POST resends this one delivery."""
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
                "This callback is already on its way "
                f"(next attempt {moment_format(delivery.next_attempt_at)}).",
                messages.WARNING,
            )
            return HttpResponseRedirect(change_url)
        if request.method != "POST":
            return self._confirmation(
                request,
                title="Resend this callback?",
                context={
                    "count": 1,
                    "skipped": 0,
                    "by_partner": _by_partner(CallbackDelivery.objects.filter(pk=delivery.pk)),
                    "warnings": partner_endpoint_warnings([delivery.partner_id]),
                    "cancel_url": change_url,
                },
            )
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

    def replay_view(self, request: HttpRequest) -> HttpResponse:
        """GET: how many Failed/Delivered callbacks the filter names. POST: replay them in a
        background job."""
        if not self.has_resend_permission(request):
            raise PermissionDenied
        selection = ReplaySelection.from_params(request.GET)
        list_url = reverse("admin:callbacks_callbackdelivery_changelist")
        back_url = list_url + (f"?{request.GET.urlencode()}" if request.GET else "")
        if request.method == "POST":
            callback_deliveries_replay_run.delay(selection.to_params(), request.user.get_username())
            self.message_user(
                request,
                "Replay queued: the selected callbacks are being sent again in the background "
                "(same ids, in each conversion's order).",
            )
            return HttpResponseRedirect(list_url + "?" + urlencode(selection.to_params()))
        deliveries = replay_deliveries(selection)
        by_partner = _by_partner(deliveries)
        return self._confirmation(
            request,
            title="Replay these callbacks?",
            context={
                "count": sum(row["count"] for row in by_partner),
                "skipped": 0,
                "replay": True,
                "selection": selection,
                "by_partner": by_partner,
                "warnings": partner_endpoint_warnings([row["partner_id"] for row in by_partner]),
                "cancel_url": back_url,
            },
        )
