"""The admin's first page: the overview of conversions, money, rates, backlog, callbacks and
imports (``conversions.overview``), each figure a link to the list that shows it.

``admin.site.index_template`` is this page's template, which asks for its context through the
``conversions_overview`` template tag: the site keeps Django's own index view, and the overview
needs no URL of its own. Users without "Can view conversion" see only the list of pages.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from conversions.admin.charts import daily_status_chart
from conversions.admin.display import percent, status_badge, when
from conversions.amounts import money_by_currency
from conversions.models import Status
from conversions.overview import Day, Overview, overview_read
from conversions.selectors import status_changes_latest

LATEST_CHANGES = 10


def list_url(**filters: Any) -> str:
    """The conversion list filtered as given (the list's own query parameters)."""
    params = {
        key: (_filter_time(value) if isinstance(value, datetime) else value)
        for key, value in filters.items()
        if value is not None
    }
    url = reverse("admin:conversions_conversion_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def _filter_time(value: datetime) -> str:
    # As the list's date range reads it: the admin's time zone, to the minute.
    return f"{timezone.localtime(value):%Y-%m-%d %H:%M}"


def overview_context(request: HttpRequest) -> dict[str, Any]:
    """What the overview template shows; empty for a user who may not view conversions."""
    if not request.user.has_perm("conversions.view_conversion"):
        return {}
    overview = overview_read()
    return {
        "now": when(overview.now),
        "windows": _windows(overview),
        "statuses": [(value, label) for value, label in Status.choices],
        "rates_since": when(overview.rates_since),
        "offer_rates": _rates(overview.offer_rates, "offer__id__exact", overview),
        "partner_rates": _rates(overview.partner_rates, "partner__id__exact", overview),
        "backlog": _backlog(overview),
        "failed_callbacks": _callbacks(overview.failed_callbacks),
        "held_callbacks": _callbacks(overview.held_callbacks),
        "imports": _imports(overview),
        "chart": daily_status_chart(overview.days, day_url=_day_url),
        "chart_total": sum(sum(day.by_status.values()) for day in overview.days),
        "latest_changes": status_changes_latest(limit=LATEST_CHANGES),
        "tests": _tests(overview),
    }


def _tests(overview: Overview) -> dict[str, Any]:
    """The line naming test conversions (empty when there are none)."""
    counts = overview.test_conversions
    if not counts:
        return {}
    total = sum(counts.values())
    return {
        "total": total,
        "total_text": f"{total:,}",
        "by_status": [
            (label, f"{counts[value]:,}") for value, label in Status.choices if counts.get(value)
        ],
        "url": list_url(test="only"),
    }


def _day_url(day: Day) -> str:
    return list_url(created_at__gte=day.start, created_at__lt=day.start + timedelta(days=1))


def _windows(overview: Overview) -> list[dict[str, Any]]:
    return [
        {
            "label": window.label,
            "since": when(window.since),
            "total": f"{window.total.conversions:,}",
            "total_url": list_url(created_at__gte=window.since),
            "payout": money_by_currency(window.total.payout),
            "revenue": money_by_currency(window.total.revenue),
            "cells": [
                {
                    "badge": status_badge(status),
                    "conversions": f"{amounts.conversions:,}",
                    "payout": money_by_currency(amounts.payout),
                    "revenue": money_by_currency(amounts.revenue),
                    "url": list_url(status__exact=status, created_at__gte=window.since),
                }
                for status, amounts in window.by_status.items()
            ],
        }
        for window in overview.windows
    ]


def _rates(rates: list, parameter: str, overview: Overview) -> list[dict[str, Any]]:
    since = overview.rates_since
    return [
        {
            "name": rate.name,
            "total": f"{rate.total:,}",
            "url": list_url(**{parameter: rate.id}, created_at__gte=since),
            "approved": percent(rate.share(Status.SUCCESS)),
            "approved_url": list_url(
                **{parameter: rate.id}, status__exact=Status.SUCCESS, created_at__gte=since
            ),
            "rejected": percent(rate.share(Status.REJECTED)),
            "rejected_url": list_url(
                **{parameter: rate.id}, status__exact=Status.REJECTED, created_at__gte=since
            ),
            "pending": percent(rate.share(Status.PENDING)),
        }
        for rate in rates
    ]


def _backlog(overview: Overview) -> list[dict[str, Any]]:
    return [
        {
            "offer": row.offer_name,
            "cells": [
                {
                    "label": label,
                    "count": f"{count:,}" if count else "",
                    "url": list_url(
                        offer__id__exact=row.offer_id,
                        status__exact=Status.PENDING,
                        created_at__lt=cutoff,
                    ),
                }
                for label, cutoff, count in row.older_than
            ],
        }
        for row in overview.backlog
    ]


def _callbacks(partners: list) -> list[dict[str, Any]]:
    deliveries = reverse("admin:callbacks_callbackdelivery_changelist")
    return [
        {
            "partner": row.partner_name,
            "failed": f"{'at least ' if row.at_least else ''}{row.failed:,}",
            "latest": when(row.latest_failure_at),
            "deliveries_url": deliveries
            + "?"
            + urlencode({"state__exact": "failed", "partner__id__exact": row.partner_id}),
            "conversions_url": list_url(partner__id__exact=row.partner_id, callback_sent="failed"),
        }
        for row in partners
    ]


def _imports(overview: Overview) -> list[dict[str, Any]]:
    rows = []
    for job in overview.latest_imports:
        summary = job.summary or {}
        rows.append(
            {
                "job": job,
                "url": reverse("admin:conversions_importjob_change", args=[job.pk]),
                "created": when(job.created_at),
                "rows": summary.get("rows"),
                "changed": summary.get("applied_total", summary.get("will_change_total")),
                "unchanged": summary.get("unchanged"),
                "rejected": sum(
                    summary.get(key) or 0 for key in ("not_found", "invalid", "conflicting")
                )
                if summary
                else None,
                "applied": "applied_total" in summary,
            }
        )
    return rows
