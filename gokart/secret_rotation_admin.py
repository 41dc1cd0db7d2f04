"""The admin's two pages for a rotated secret, one pair for offers' postback tokens and
partners' signing secrets: confirm a rotation, and show the new secret once.

Post/redirect/get: the request that creates an owner or rotates its secret stores the secret in
the admin's session (server-side, the database session store) and redirects to the reveal page;
its first GET shows it and deletes it, so a reload shows only "already shown". It is never put
in a message, a log entry or a cache, and the reveal page is ``no-store``. Every other page shows
it masked. The rotation form names the secret it replaces (its fingerprint): a repeated POST
finds it already replaced and changes nothing (``gokart.secret_rotation``). Rotating needs the
owner's change permission; each rotation is recorded in the owner's history (a LogEntry, never
the secret).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.utils.safestring import SafeString

from gokart.secret_rotation import (
    RotatedSecret,
    secret_fingerprint,
    secret_rotate,
    secrets_in_use,
)


@dataclass(frozen=True)
class SecretWording:
    """What the pages say of one kind of secret, for one owner."""

    noun: str  # "postback token"
    short: str  # "token"
    # The column of the in-use table ("Accepted"), and the sentence above it.
    in_use_column: str
    in_use_intro: str
    # "is still accepted": what the replaced secret does during its grace.
    still_used: str
    # Why the grace: "so Acme's postbacks keep being recorded while they switch".
    grace_reason: str
    # What happens to a holder still using a replaced secret after its grace.
    after_grace: str
    holder: str  # "Acme Games", "the partner"
    given: str  # what the holder is given: "postback URL", "secret"
    # What the reveal page says the shown value is for (may hold markup).
    usage: SafeString | str


@dataclass(frozen=True)
class SecretRow:
    """One secret in use, masked, for the in-use table."""

    masked: str
    expires_at: datetime | None


def secret_rows(*, kind: RotatedSecret, owner: Any, mask: Callable[[str], str]) -> list[SecretRow]:
    """The secrets in use now, masked, with their expiry (None: the current one)."""
    return [
        SecretRow(mask(row.secret), row.expires_at)
        for row in secrets_in_use(kind=kind, owner=owner)
    ]


def grace_wording(grace: timedelta) -> str:
    hours = int(grace.total_seconds() // 3600)
    if hours and hours % 24 == 0:
        days = hours // 24
        return "24 hours" if days == 1 else f"{days} days"
    return f"{hours} hours" if hours != 1 else "1 hour"


class SecretRotationViews(admin.ModelAdmin):
    """The rotation and reveal pages of an owner's ModelAdmin (mixed in first).

    A kind sets ``rotated_secret``, the two pages' path segments (their URL names are
    ``<app>_<model>_<segment with underscores>``), ``secret_wording``, ``secret_mask`` and,
    when the reveal shows more than the bare secret, ``secret_shown``.
    """

    rotated_secret: RotatedSecret
    rotate_path: str = "rotate-secret"
    reveal_path: str = "secret"
    reveal_value_id = "gk-secret-value"

    # -- per kind --------------------------------------------------------------------------
    def secret_wording(self, owner: Any) -> SecretWording:
        raise NotImplementedError

    def secret_mask(self, stored: str) -> str:
        """The secret as every page but the reveal shows it (from its stored value)."""
        raise NotImplementedError

    def secret_shown(self, request: HttpRequest, owner: Any, secret: str) -> str:
        """What the reveal page shows, once: the secret itself unless a kind says otherwise."""
        return secret

    # -- shared ----------------------------------------------------------------------------
    def _url_name(self, segment: str) -> str:
        opts = self.model._meta
        return f"{opts.app_label}_{opts.model_name}_{segment.replace('-', '_')}"

    def secret_rotation_urls(self) -> list[URLPattern]:
        return [
            path(
                f"<path:object_id>/{self.rotate_path}/",
                self.admin_site.admin_view(self.rotate_secret_view),
                name=self._url_name(self.rotate_path),
            ),
            path(
                f"<path:object_id>/{self.reveal_path}/",
                self.admin_site.admin_view(self.reveal_secret_view),
                name=self._url_name(self.reveal_path),
            ),
        ]

    def secret_rotate_url(self, owner: Any) -> str:
        return reverse(f"admin:{self._url_name(self.rotate_path)}", args=[owner.pk])

    def _reveal_key(self, owner: Any) -> str:
        opts = self.model._meta
        return f"{opts.app_label}.{opts.model_name}.secret_reveal.{owner.pk}"

    def secret_reveal_redirect(
        self, request: HttpRequest, owner: Any, *, secret: str, rotated: bool
    ) -> HttpResponseRedirect:
        """Keep the secret for the next GET of its reveal page only, and redirect there."""
        request.session[self._reveal_key(owner)] = {"secret": secret, "rotated": rotated}
        return HttpResponseRedirect(
            reverse(f"admin:{self._url_name(self.reveal_path)}", args=[owner.pk])
        )

    def response_add(
        self, request: HttpRequest, obj: models.Model, post_url_continue: str | None = None
    ) -> HttpResponse:
        if "_popup" in request.POST:
            return super().response_add(request, obj, post_url_continue)
        secret = getattr(obj, self.rotated_secret.owner_field)
        return self.secret_reveal_redirect(request, obj, secret=secret, rotated=False)

    def _owner(self, object_id: str) -> Any:
        return get_object_or_404(self.model, pk=object_id if object_id.isdigit() else None)

    def _permission_needed(self, action: str, wording: SecretWording) -> str:
        opts = self.model._meta
        doing = f"Rotating a {opts.verbose_name}'s {wording.noun}"
        if action == "view":
            doing = f"A {opts.verbose_name}'s {wording.noun}"
        return (
            f"{doing} needs the permission “Can {action} {opts.verbose_name}” "
            f"({opts.app_label}.{action}_{opts.model_name})."
        )

    def _page_context(self, request: HttpRequest, owner: Any, wording: SecretWording) -> dict:
        opts = self.model._meta
        return {
            **self.admin_site.each_context(request),
            "opts": opts,
            "media": self.media,
            "owner": owner,
            "original": owner,
            "wording": wording,
            "rows": secret_rows(kind=self.rotated_secret, owner=owner, mask=self.secret_mask),
            "grace": grace_wording(self.rotated_secret.grace()),
            "change_url": reverse(
                f"admin:{opts.app_label}_{opts.model_name}_change", args=[owner.pk]
            ),
            "changelist_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
        }

    def rotate_secret_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """GET: confirm (which secrets are in use, until when). POST: rotate, then reveal."""
        owner = self._owner(object_id)
        wording = self.secret_wording(owner)
        if not self.has_change_permission(request, owner):
            raise PermissionDenied(self._permission_needed("change", wording))
        context = self._page_context(request, owner, wording)
        if request.method == "POST":
            secret = secret_rotate(
                kind=self.rotated_secret, owner=owner, replacing=request.POST.get("replacing", "")
            )
            if secret is None:
                self.message_user(
                    request,
                    f"That rotation was already made (the form was sent again): nothing "
                    f"changed. The {wording.short} it made is not shown again; rotate once more "
                    "if it was lost.",
                    messages.WARNING,
                )
                return HttpResponseRedirect(context["change_url"])
            # Recorded in the owner's history; the secret itself never is.
            self.log_change(request, owner, f"Rotated the {wording.noun}.")
            return self.secret_reveal_redirect(request, owner, secret=secret, rotated=True)
        current = getattr(owner, self.rotated_secret.owner_field)
        context.update(
            title=f"Rotate the {wording.noun} of “{owner}”?",
            replacing=secret_fingerprint(current),
            current_masked=self.secret_mask(current),
        )
        return TemplateResponse(request, "admin/secret_rotation/rotate.html", context)

    def reveal_secret_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The secret just created or rotated, on its first GET only."""
        owner = self._owner(object_id)
        wording = self.secret_wording(owner)
        if not self.has_view_or_change_permission(request, owner):
            raise PermissionDenied(self._permission_needed("view", wording))
        revealed = request.session.pop(self._reveal_key(owner), None)
        context = self._page_context(request, owner, wording)
        context.update(
            title=f"The {wording.noun} of “{owner}”",
            shown=self.secret_shown(request, owner, revealed["secret"]) if revealed else None,
            shown_id=self.reveal_value_id,
            rotated=bool(revealed and revealed["rotated"]),
        )
        response = TemplateResponse(request, "admin/secret_rotation/reveal.html", context)
        # The one page with the secret in it: never kept by a browser or proxy cache.
        add_never_cache_headers(response)
        patch_cache_control(response, no_store=True)
        return response
