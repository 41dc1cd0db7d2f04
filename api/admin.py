"""API keys in the admin: a user creates keys for themselves (a superuser also for another
user), sees the key once, lists their keys by prefix with their last use, and revokes them.
Keys are never edited or deleted: a revoked key stays listed, as the name its changes carry.
A key's page lists its latest requests' outcomes (``api.request_log``)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from api.keys import api_key_create, api_key_revoke
from api.models import ApiKey, Scope
from api.request_log import api_requests_recent

# The requests a key's page lists (the log keeps API_REQUEST_LOG_PER_KEY).
RECENT_REQUESTS = 50


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the key is for: it names its changes.")
    user = forms.ModelChoiceField(
        queryset=get_user_model().objects.filter(is_active=True).order_by("username"),
        required=False,
        help_text="The user the key acts as (superusers only; yourself when left empty).",
    )
    scopes = forms.MultipleChoiceField(choices=Scope.choices, widget=forms.CheckboxSelectMultiple)
    expires_at = forms.DateTimeField(
        required=False, help_text="Optional: YYYY-MM-DD HH:MM (UTC). Empty: never expires."
    )

    def __init__(self, *args: Any, superuser: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not superuser:
            del self.fields["user"]


def _staff(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and user.is_staff)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "prefix",
        "user",
        "scope_list",
        "state",
        "expires_at",
        "last_used_at",
        "last_used_from",
        "created_at",
    ]
    search_fields = ["name", "prefix"]
    readonly_fields = [
        "name",
        "prefix",
        "user",
        "created_by",
        "scopes",
        "expires_at",
        "revoked_at",
        "created_at",
        "last_used_at",
        "last_used_from",
    ]
    exclude = ["secret_sha256"]
    actions = ["revoke"]

    class Media:
        css = {"all": ["api/admin.css"]}

    # Every staff user manages their own keys; superusers everyone's.
    def has_module_permission(self, request: HttpRequest) -> bool:
        return _staff(request)

    def has_view_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return _staff(request) and (
            obj is None or request.user.is_superuser or obj.user_id == request.user.pk
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return _staff(request)

    def has_change_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return _staff(request)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiKey]:
        keys = super().get_queryset(request).select_related("user")
        return keys if request.user.is_superuser else keys.filter(user_id=request.user.pk)

    @admin.display(description="scopes")
    def scope_list(self, obj: ApiKey) -> str:
        return ", ".join(obj.scopes)

    @admin.display(description="state")
    def state(self, obj: ApiKey) -> str:
        if obj.revoked_at is not None:
            return "Revoked"
        return "Active" if obj.is_usable() else "Expired"

    @admin.action(description="Revoke selected API keys", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        keys = list(queryset.filter(revoked_at__isnull=True))
        for api_key in keys:
            api_key_revoke(api_key=api_key)
        self.message_user(request, f"Revoked {len(keys)} API key(s).", messages.SUCCESS)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> HttpResponse:
        api_key = self.get_object(request, object_id)
        context = {
            **(extra_context or {}),
            "api_requests": (
                api_requests_recent(api_key=api_key, limit=RECENT_REQUESTS) if api_key else []
            ),
            "api_requests_kept": settings.API_REQUEST_LOG_PER_KEY,
        }
        return super().change_view(request, object_id, form_url, context)

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        superuser = bool(request.user.is_superuser)
        form = ApiKeyCreateForm(request.POST or None, superuser=superuser)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Create an API key",
            "form": form,
        }
        if request.method == "POST" and form.is_valid():
            try:
                api_key, token = api_key_create(
                    name=form.cleaned_data["name"],
                    user=form.cleaned_data.get("user") or request.user,
                    created_by=request.user,
                    scopes=form.cleaned_data["scopes"],
                    expires_at=form.cleaned_data["expires_at"],
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                context.update(title="API key created", api_key=api_key, token=token)
                response = TemplateResponse(request, "admin/api/apikey/created.html", context)
                response["Cache-Control"] = "no-store"
                return response
        return TemplateResponse(request, "admin/api/apikey/create.html", context)
