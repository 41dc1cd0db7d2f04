"""Admin for partners and callback deliveries, and the "Callback sent" column.

Placeholder: the callbacks issue fills this in.
"""

from django.contrib import admin


class ConversionCallbackMixin:
    """Mixed into ConversionAdmin: adds a ``callback_sent`` column to list_display."""

    @admin.display(description="Callback sent")
    def callback_sent(self, obj) -> str:
        return "—"


class CallbackSentListFilter(admin.SimpleListFilter):
    title = "callback sent"
    parameter_name = "callback_sent"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        return queryset
