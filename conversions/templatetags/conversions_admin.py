"""Template tags of the admin pages that Django's own views render: the overview (the site's
index) and the 403 page, and the amounts of a conversion's status history."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template
from django.contrib import admin
from django.contrib.admin.templatetags.admin_list import result_headers, result_list
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from conversions.amounts import amount

register = template.Library()


@register.filter
def gk_amount(value: Decimal | None) -> str:
    """An amount as every page writes it ("1.50", sub-cent digits kept; "" for none)."""
    return "" if value is None else amount(value)


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


@register.inclusion_tag("admin/change_list_results.html")
def conversion_result_list(cl: Any) -> dict[str, Any]:
    """Django's ``result_list`` for Conversion Management, with the rows written by
    ``ConversionChangeList.result_rows`` (the same markup, without a lookup per cell). Any
    other list of conversions (a plain ``ModelAdmin`` on another admin site finds this
    template too) gets Django's own."""
    from conversions.admin.changelist import ConversionChangeList

    if not isinstance(cl, ConversionChangeList):
        return result_list(cl)
    headers = list(result_headers(cl))
    return {
        "cl": cl,
        "result_hidden_fields": [],
        "result_headers": headers,
        "num_sorted_fields": sum(1 for h in headers if h["sortable"] and h["sorted"]),
        "results": cl.result_rows(),
    }
