"""Template tags of the admin pages that Django's own views render: the overview (the site's
index) and the 403 page."""

from __future__ import annotations

from typing import Any

from django import template
from django.contrib import admin
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

register = template.Library()


@register.simple_tag(takes_context=True)
def conversions_overview(context: template.Context) -> dict[str, Any]:
    """The overview's figures (``conversions.admin.overview``) for the page's user."""
    from conversions.admin.overview import overview_context

    return overview_context(context["request"])


@register.simple_tag(takes_context=True)
def admin_site_context(context: template.Context) -> str:
    """Put the admin site's own context (its header, the user's pages and links) into a page
    that a view outside the admin renders, such as the 403 page; nothing for anonymous users."""
    request = context.get("request")
    if request is not None:
        referer = request.META.get("HTTP_REFERER", "")
        safe = url_has_allowed_host_and_scheme(
            referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
        context.update(
            {
                **admin.site.each_context(request),
                # "Go back": where the user came from, when that is this site.
                "back_url": referer if referer and safe else reverse("admin:index"),
            }
        )
    return ""
