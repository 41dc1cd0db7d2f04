"""What every app's admin shares: the changelist paginator for tables of millions of rows, the
permissions of admin pages that only show tracked data, and change pages that show more than
their form."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.core.exceptions import EmptyResultSet
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.formats import number_format
from django.utils.functional import cached_property


class LargeTablePaginator(Paginator):
    """A paginator that never counts a whole large table, and pages by primary key.

    - Unfiltered, the planner's row estimate (``pg_class.reltuples``, kept fresh by
      autovacuum) stands in for ``COUNT(*)``; the list reads "about 2,000,000 conversions".
    - Filtered (or a small table), counting stops after ``COUNT_CAP`` rows; the list then reads
      "more than 10,000 conversions" and its last reachable page is ``COUNT_CAP / per_page``
      (100): narrower filters, or the export, reach the rest. The cap is small on purpose: with
      ``LIMIT 10001`` the planner walks one index and stops, where a cap of 100,000 made it
      bitmap-AND two whole indexes for two filters at once (0.3 s at 2M rows).
    - A page past the first selects its primary keys alone (an index scan with OFFSET, no joins)
      and then loads those rows with their related objects, so page 500 does not join the
      50,000 rows it skips.
    """

    COUNT_CAP = 10_000

    count_is_estimate = False
    count_is_capped = False

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return len(queryset)
        if not queryset.query.where:
            estimate = _estimated_rows(queryset.model._meta.db_table)
            if estimate > self.COUNT_CAP:
                self.count_is_estimate = True
                return estimate
        counted = queryset.order_by()[: self.COUNT_CAP + 1].count()
        if counted > self.COUNT_CAP:
            self.count_is_capped = True
            return self.COUNT_CAP
        return counted

    @property
    def count_label(self) -> str:
        """The count as a person should read it: "1,234", "about 2,000,000", "more than …"."""
        number = number_format(self.count, force_grouping=True)
        if self.count_is_estimate:
            return f"about {number}"
        if self.count_is_capped:
            return f"more than {number}"
        return number

    def page(self, number: int | str) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        object_list = self.object_list
        if bottom and isinstance(object_list, QuerySet):
            # The queryset keeps its ordering, so the page's rows come back in the same order.
            page_keys = list(object_list.values_list("pk", flat=True)[bottom:top])
            return Page(object_list.filter(pk__in=page_keys), number, self)
        return Page(object_list[bottom:top], number, self)


def _estimated_rows(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [table])
        row = cursor.fetchone()
    # reltuples is -1 for a table never vacuumed or analysed.
    return max(int(row[0]), 0) if row else 0


def planned_rows(queryset: QuerySet) -> int:
    """How many rows PostgreSQL's planner expects ``queryset`` to return (``EXPLAIN``: nothing
    is read), for an "about …" that must not count tens of millions of rows. 0 for a queryset
    that can match nothing."""
    try:
        sql, params = queryset.order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        (plan,) = cursor.fetchone()
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


class ReadOnlyAdminMixin:
    """An admin (or inline) of tracked data: it can be looked at, never added, edited or
    deleted by hand. Actions that change such data are services with their own permission."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ChangePageContextAdmin(admin.ModelAdmin):
    """A model admin whose change page shows more than the form (a panel, buttons, a history):
    ``change_page_context`` says what its template gets besides Django's own context."""

    def change_page_context(self, request: HttpRequest, obj: Any) -> dict[str, Any]:
        """The context the change page of ``obj`` adds (``None`` for an id that names no
        object, whose page Django answers itself: raise here to answer otherwise)."""
        return {}

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        obj = self.get_object(request, object_id)
        extra_context = {**(extra_context or {}), **self.change_page_context(request, obj)}
        return super().change_view(request, object_id, form_url, extra_context)
