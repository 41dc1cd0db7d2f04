"""What Conversion Management's export will hold, said on its page before it is made: the
filters and search that apply, in words; about how many rows; and the file name, derived from
the filters.

The row count never counts a large table: exact from the conversion tally when it can answer
the filters (status, offer, partner, created dates: ``conversions.admin.totals``); otherwise
counted up to ``LargeTablePaginator.COUNT_CAP`` as the list does, and past that PostgreSQL's
planner estimate (``EXPLAIN``), said as "about …".

File names (``report_filename``) are made of the filters' own values, in safe characters only
(ASCII letters, digits, ``-`` and ``.``): ``conversions-success-offer-12-2026-11-01--2026-11-30
.csv`` for Success conversions of offer 12 created from 2026-11-01 before 2026-12-01 (a range
is named by its first and last day; an end to the minute by ``before-2026-11-30-1400``). A
report filtered by no date range ends with the day it was exported (``as-of-2026-12-01``),
since it is a snapshot; the unfiltered list is ``conversions-all-as-of-…``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal

from django.contrib.admin.views.main import IGNORED_PARAMS, SEARCH_VAR, ChangeList
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import Model, QuerySet
from django.http import HttpRequest, QueryDict
from django.utils import timezone

from callbacks.admin.callback_sent import CALLBACK_SENT_CHOICES, CallbackSentListFilter
from conversions.admin.filters import DateRangeListFilter, range_value_parse
from conversions.admin.totals import list_tally_arguments
from conversions.models import Source, Status
from conversions.selectors import conversion_totals_tallied
from gokart.admin_base import LargeTablePaginator, planned_rows

SEARCH_NAME_CHARS = 40


@dataclass(frozen=True)
class RowCount:
    """How many rows a report has: ``exact``, ``about`` (the planner's estimate, rounded) or
    ``more_than`` (counting stopped, and the planner expected fewer)."""

    rows: int
    kind: Literal["exact", "about", "more_than"]

    def words(self) -> str:
        number = f"{self.rows:,}"
        noun = "conversion" if self.rows == 1 and self.kind == "exact" else "conversions"
        if self.kind == "about":
            return f"about {number} {noun}"
        if self.kind == "more_than":
            return f"more than {number} {noun}"
        return f"{number} {noun}"


def report_rows_count(*, request: HttpRequest, queryset: QuerySet) -> RowCount:
    """How many conversions the report of the list as this request filters it will have."""
    tally_arguments = list_tally_arguments(request)
    if tally_arguments is not None:
        return RowCount(conversion_totals_tallied(**tally_arguments).conversions, "exact")
    cap = LargeTablePaginator.COUNT_CAP
    counted = queryset.order_by()[: cap + 1].count()
    if counted <= cap:
        return RowCount(counted, "exact")
    planned = planned_rows(queryset)
    if planned > cap:
        return RowCount(_rounded(planned), "about")
    return RowCount(cap, "more_than")


def _rounded(rows: int) -> int:
    """An estimate to two significant digits (1,234,567 → 1,200,000): no false precision."""
    digits = len(str(rows))
    return round(rows, -(digits - 2)) if digits > 2 else rows


def report_filters_described(changelist: ChangeList) -> list[tuple[str, str]]:
    """The filters and search the list applies, as (what, value) in the list's own words:
    ``("Status", "Success")``, ``("Created", "from 2026-11-01, before 2026-12-01")``.

    A filter the list does not show (Django hides an offer filter while there is only one
    offer) is still named, from its field, as the file name names it."""
    described = []
    claimed = {name for spec in changelist.filter_specs for name in spec.expected_parameters()}
    for spec in changelist.filter_specs:
        if not any(name in changelist.filter_params for name in spec.expected_parameters()):
            continue
        if isinstance(spec, DateRangeListFilter):
            start, before = spec.bounds()
            parts = [f"from {_moment(start)}"] if start else []
            parts += [f"before {_moment(before)}"] if before else []
            value = ", ".join(parts)
        else:
            value = ", ".join(
                str(choice["display"]) for choice in spec.choices(changelist) if choice["selected"]
            )
        if value:
            title = str(spec.title)
            described.append((title[:1].upper() + title[1:], value))
    for name, values in changelist.filter_params.items():
        if name not in claimed and name not in IGNORED_PARAMS and name != "_changelist_filters":
            described.append(_unlisted_filter_described(changelist.model, name, values[-1]))
    if changelist.query.strip():
        described.append(("Search", changelist.query.strip()))
    return described


def _unlisted_filter_described(model: type[Model], name: str, value: str) -> tuple[str, str]:
    field_name, _, lookup = name.partition("__")
    try:
        field = model._meta.get_field(field_name)
    except FieldDoesNotExist:
        return name, value
    title = str(getattr(field, "verbose_name", field_name))
    if field.is_relation and field.related_model and lookup in ("id__exact", "exact"):
        try:
            related = field.related_model._default_manager.filter(pk=value).first()
        except (ValueError, ValidationError):
            related = None
        shown = str(related) if related is not None else value
    else:
        shown = str(dict(getattr(field, "choices", None) or ()).get(value, value))
    return title[:1].upper() + title[1:], shown


def _moment(value: datetime) -> str:
    local = timezone.localtime(value)
    if local.time() == time():
        return f"{local:%Y-%m-%d}"
    return f"{local:%Y-%m-%d %H:%M}"


# -- file names -------------------------------------------------------------------------------

_CALLBACK_STATES = {value for value, _ in CALLBACK_SENT_CHOICES}


def report_filename(*, params: QueryDict, extension: str, today: date | None = None) -> str:
    """The report's file name from the list's query parameters (see the module docstring).
    Values a filter would refuse are left out of the name."""
    parts = []
    status = params.get("status__exact", "")
    if status in Status.values:
        parts.append(status)
    for name in ("offer", "partner"):
        key = params.get(f"{name}__id__exact", "")
        if key.isascii() and key.isdigit() and len(key) <= 18:
            parts.append(f"{name}-{int(key)}")
    source = params.get("status_source__exact", "")
    if source in Source.values:
        parts.append("source-" + source.replace("_", "-"))
    callback = params.get(CallbackSentListFilter.parameter_name, "")
    if callback in _CALLBACK_STATES:
        parts.append(f"callback-{callback}")
    created = _range_name(params, "created_at")
    changed = _range_name(params, "status_changed_at")
    search = params.get(SEARCH_VAR, "").strip()
    if search:
        slug = re.sub(r"[^A-Za-z0-9]+", "-", search).strip("-")[:SEARCH_NAME_CHARS].strip("-")
        parts.append(f"search-{slug}" if slug else "search")
    if not parts and not (created or changed):
        parts.append("all")
    if created:
        parts.append(created)
    if changed:
        parts.append(f"changed-{changed}")
    if not (created or changed):
        parts.append(f"as-of-{today or timezone.localdate():%Y-%m-%d}")
    return f"conversions-{'-'.join(parts)}.{extension}"


def _range_name(params: QueryDict, field: str) -> str:
    """A date range's part of the name: ``2026-11-01--2026-11-30`` (first and last day),
    ``from-2026-11-01``, ``until-2026-11-30``, or with times ``before-2026-11-30-1400``."""
    try:
        start = range_value_parse(params.get(f"{field}__gte", ""))
        before = range_value_parse(params.get(f"{field}__lt", ""))
    except ValueError:
        return ""
    first = _start_name(start) if start else ""
    last = _end_name(before) if before else ""
    if first and last:
        return first if first == last else f"{first}--{last}"
    if first:
        return f"from-{first}"
    if last:
        return last if last.startswith("before-") else f"until-{last}"
    return ""


def _start_name(value: datetime) -> str:
    local = timezone.localtime(value)
    return f"{local:%Y-%m-%d}" if local.time() == time() else f"{local:%Y-%m-%d-%H%M}"


def _end_name(value: datetime) -> str:
    # A "before" at midnight is named by the last day it includes.
    local = timezone.localtime(value)
    if local.time() == time():
        return f"{local.date() - timedelta(days=1):%Y-%m-%d}"
    return f"before-{local:%Y-%m-%d-%H%M}"
