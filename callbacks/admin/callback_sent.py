"""The "Callback sent" column and filter of Conversion Management.

A conversion's callback state is the state of its latest callback delivery (the highest
sequence number): Sent, Pending (being delivered or retried) or Failed; a conversion none of
whose changes owed the partner a callback shows "—". Both the column and the filter read the
deliveries' ``(conversion, sequence_number)`` index: the column is one index probe per row of
the page, the filter an ``EXISTS`` the planner can drive from either table.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.http import HttpRequest
from django.utils.safestring import SafeString

from callbacks.admin.deliveries import delivery_state_badge
from callbacks.models import CallbackDelivery

State = CallbackDelivery.State


def _latest_delivery_state() -> Subquery:
    return Subquery(
        CallbackDelivery.objects.filter(conversion=OuterRef("pk"))
        .order_by("-sequence_number")
        .values("state")[:1]
    )


def _latest_delivery_in_state(state: str) -> Exists:
    """True when the conversion's latest delivery is in ``state``."""
    later = CallbackDelivery.objects.filter(
        conversion=OuterRef("conversion"), sequence_number__gt=OuterRef("sequence_number")
    )
    return Exists(
        CallbackDelivery.objects.filter(conversion=OuterRef("pk"), state=state).exclude(
            Exists(later)
        )
    )


class ConversionCallbackMixin:
    """Mixed into ConversionAdmin: the ``callback_sent`` column of list_display.

    Cooperative: annotates whatever queryset the other classes build.
    """

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)  # type: ignore[misc]
        return queryset.annotate(_callback_state=_latest_delivery_state())

    @property
    def media(self) -> forms.Media:
        return super().media + forms.Media(css={"all": ["callbacks/admin.css"]})  # type: ignore[misc]

    @admin.display(description="Callback sent")
    def callback_sent(self, obj: Any) -> SafeString | str:
        return delivery_state_badge(getattr(obj, "_callback_state", None), sent_wording=True)


class CallbackSentListFilter(admin.SimpleListFilter):
    """Filters conversions by the state of their latest callback (see the module docstring)."""

    title = "callback sent"
    parameter_name = "callback_sent"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("sent", "Sent"),
            ("pending", "Pending"),
            ("failed", "Failed"),
            ("none", "None owed"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value == "none":
            return queryset.filter(
                ~Exists(CallbackDelivery.objects.filter(conversion=OuterRef("pk")))
            )
        state = {"sent": State.DELIVERED, "pending": State.PENDING, "failed": State.FAILED}.get(
            value or ""
        )
        if state is None:
            return queryset
        return queryset.filter(_latest_delivery_in_state(state))
