"""Conversion Management's filters of its own: "from" and "before" on one timestamp column, and
test conversions.


The query parameters are the field's own lookups, ``<field>__gte`` and ``<field>__lt`` (e.g.
``created_at__gte=2026-11-01&created_at__lt=2026-12-01``), so the overview's links and a typed
range read the same. A value is a date ("2026-11-01", the start of that day) or a time to the
minute ("2026-11-30 14:00"), in the admin's time zone. Each range is one range of an index.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from conversions.models import Click

# Query parameters of the list itself that a filter's form must not carry over.
_NOT_CARRIED = {"p", "e"}


def range_value_parse(value: str) -> datetime | None:
    """A "from"/"before" value as an aware datetime; None when blank. Raises ValueError for
    a value that is neither a date nor a date and time."""
    value = value.strip()
    if not value:
        return None
    parsed = parse_datetime(value.replace("T", " ")) if " " in value or "T" in value else None
    if parsed is None:
        day = parse_date(value)
        if day is None:
            raise ValueError(f"Not a date: {value!r}. Write it as 2026-11-30 or 2026-11-30 14:00.")
        parsed = datetime.combine(day, time())
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


class DateRangeListFilter(admin.FieldListFilter):
    """A "from" and a "before" date on one field, typed into two date inputs."""

    template = "admin/conversions/conversion/date_range_filter.html"
    # Titles as the list's columns name the fields ("By created", "By last status change").
    titles = {"created_at": "created", "status_changed_at": "last status change"}

    def __init__(
        self,
        field: Any,
        request: HttpRequest,
        params: dict[str, Any],
        model: Any,
        model_admin: Any,
        field_path: str,
    ) -> None:
        self.lookup_from = f"{field_path}__gte"
        self.lookup_before = f"{field_path}__lt"
        super().__init__(field, request, params, model, model_admin, field_path)
        self.title = self.titles.get(field_path, self.title)
        self.carried = [
            (key, value)
            for key, value in request.GET.items()
            if key not in (self.lookup_from, self.lookup_before) and key not in _NOT_CARRIED
        ]

    def expected_parameters(self) -> list[str | None]:
        return [self.lookup_from, self.lookup_before]

    def _value(self, lookup: str) -> str:
        value = self.used_parameters.get(lookup)
        if isinstance(value, list):
            value = value[-1] if value else ""
        return str(value or "")

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        """The range asked for (from, before), either end open."""
        try:
            return (
                range_value_parse(self._value(self.lookup_from)),
                range_value_parse(self._value(self.lookup_before)),
            )
        except ValueError as error:
            raise IncorrectLookupParameters(error) from error

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        start, before = self.bounds()
        if start is not None:
            queryset = queryset.filter(**{self.lookup_from: start})
        if before is not None:
            queryset = queryset.filter(**{self.lookup_before: before})
        return queryset

    def choices(self, changelist: ChangeList) -> Iterator[dict[str, Any]]:  # type: ignore[override]
        values = {
            name: self._value(lookup)
            for name, lookup in (("from", self.lookup_from), ("before", self.lookup_before))
        }
        yield {
            "selected": any(values.values()),
            "field": self.field_path,
            "lookup_from": self.lookup_from,
            "lookup_before": self.lookup_before,
            "from": values["from"],
            "before": values["before"],
            # A date input cannot show a time: a value with one (from the overview's links) is
            # shown in a text input instead.
            "from_type": "text" if " " in values["from"] else "date",
            "before_type": "text" if " " in values["before"] else "date",
            "carried": self.carried,
            "clear_query_string": changelist.get_query_string(
                remove=[self.lookup_from, self.lookup_before]
            ),
        }


class TestConversionListFilter(admin.SimpleListFilter):
    """Test conversions (the offer page's tool, ``conversions.test_conversions``) only, or all
    but them: the conversions of the few test clicks, read from their partial index."""

    title = "test conversions"
    parameter_name = "test"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("only", "Test conversions only"), ("hide", "Without test conversions")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        test_clicks = Click.objects.filter(is_test=True).values("pk")
        if self.value() == "only":
            return queryset.filter(click_id__in=test_clicks)
        if self.value() == "hide":
            return queryset.exclude(click_id__in=test_clicks)
        return queryset
