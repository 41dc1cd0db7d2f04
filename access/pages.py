"""The sign-in's and two-step pages, rendered as admin pages (the site's header, its context)."""

from __future__ import annotations

from typing import cast

from django.contrib import admin
from django.contrib.auth.models import User
from django.http import HttpRequest
from django.template.response import TemplateResponse


def admin_page_render(request: HttpRequest, template: str, context: dict) -> TemplateResponse:
    """One of our pages, with what every admin page has in its context."""
    request.current_app = admin.site.name
    return TemplateResponse(request, template, {**admin.site.each_context(request), **context})


def signed_in_user(request: HttpRequest) -> User:
    """The request's user, on a page only signed-in staff reach (``admin_view``)."""
    return cast(User, request.user)
