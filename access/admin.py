from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest

from access.models import SignInEvent
from access.pages import signed_in_user
from access.services import access_attempts_unlock


@admin.register(SignInEvent)
class SignInEventAdmin(admin.ModelAdmin):
    """The sign-in audit, read-only: nobody adds, edits or deletes an entry here."""

    list_display = ["at", "kind", "username", "address", "detail"]
    list_filter = ["kind", "at"]
    search_fields = ["username"]
    search_help_text = "User name (or the name typed in a failed sign-in)"
    date_hierarchy = "at"
    list_select_related = False
    show_full_result_count = False
    fields = ["at", "kind", "user", "username", "address", "user_agent", "detail"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(AccessAttempt)
class LockoutAdmin(AccessAttemptAdmin):
    """django-axes' failed sign-in counters, with an audited unlock.

    A row counts the failures of one user name from one address and browser; the name or the
    address is locked out once its failures reach AXES_FAILURE_LIMIT, until the cool-off has
    passed since the last failure. Unlocking forgets the selected rows' failures at once.

    The audited unlock is the only way to clear a row: no delete page, no "Delete selected"
    (a row deleted there would lift a lockout with no trace in the sign-in audit). Who may
    unlock is who holds axes' "Can delete access attempt" permission.
    """

    actions = ["unlock"]
    list_display = ["attempt_time", "username", "ip_address", "failures_since_start", "status"]

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_unlock_permission(self, request: HttpRequest) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.delete_{opts.model_name}")

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        lockout = {
            "limit": settings.AXES_FAILURE_LIMIT,
            "minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
        }
        return super().changelist_view(request, {**(extra_context or {}), "lockout": lockout})

    @admin.action(
        description="Unlock: forget the failed sign-ins of the selected rows",
        permissions=["unlock"],
    )
    def unlock(self, request: HttpRequest, queryset) -> None:
        count = access_attempts_unlock(
            attempts=queryset, unlocked_by=signed_in_user(request), request=request
        )
        self.message_user(
            request,
            f"Unlocked {count} row{'s' * (count != 1)}: those user names and addresses can "
            "sign in again now.",
        )
