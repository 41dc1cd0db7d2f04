"""The conversion report download: the list as filtered, as CSV or XLSX, streamed.

Rows come over a server-side cursor as plain values (no model instances), each column
formatted by a function chosen once per column; texts are formula-escaped (``formulas``), and
datetimes are UTC. The columns are ``ConversionReportResource``'s, whose first four are the
import's, so an exported report with its Status column edited imports back. One XLSX sheet holds
``XLSX_MAX_ROWS`` rows: a larger report is refused for XLSX (``xlsx_too_many_rows``), without
counting it all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from django.db.models import CharField, DateTimeField, QuerySet, TextField
from django.http import StreamingHttpResponse

from conversions.models import Source, Status
from conversions.reports.csv_writer import csv_chunks
from conversions.reports.formulas import formula_escape
from conversions.reports.resource import ConversionReportResource
from conversions.reports.xlsx import xlsx_stream

# Rows per chunk of the streamed CSV and per server-side cursor fetch.
EXPORT_CHUNK_ROWS = 2000
# One XLSX sheet holds 1,048,576 rows, the header included.
XLSX_MAX_ROWS = 1_048_575
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def conversion_report_response(
    *, queryset: QuerySet, file_format: str, filename: str
) -> StreamingHttpResponse:
    """The report of ``queryset`` (the list as filtered) as a download, CSV or XLSX."""
    headers = [header for header, _ in ConversionReportResource.report_columns()]
    rows = conversion_report_rows(queryset)
    if file_format == "csv":
        content: Iterator[Any] = csv_chunks(headers, rows, chunk_rows=EXPORT_CHUNK_ROWS)
        content_type = "text/csv; charset=utf-8"
    elif file_format == "xlsx":
        content = xlsx_stream(headers, islice(rows, XLSX_MAX_ROWS), sheet_name="Conversions")
        content_type = XLSX_CONTENT_TYPE
    else:
        raise ValueError(f"Unknown export format {file_format!r}")
    response = StreamingHttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def conversion_report_rows(queryset: QuerySet) -> Iterator[list[Any]]:
    """The report's rows, formatted, over a server-side cursor (no model instances)."""
    lookups = [lookup for _, lookup in ConversionReportResource.report_columns()]
    formatters = [_column_formatter(queryset.model, lookup) for lookup in lookups]
    values = queryset.values_list(*lookups).iterator(chunk_size=EXPORT_CHUNK_ROWS)
    for row in values:
        yield [format_(value) for format_, value in zip(formatters, row, strict=True)]


def xlsx_too_many_rows(queryset: QuerySet) -> bool:
    """Whether the report has more rows than one XLSX sheet holds (without counting them all)."""
    return queryset.order_by().values("pk")[XLSX_MAX_ROWS : XLSX_MAX_ROWS + 1].exists()


def _column_formatter(model: Any, lookup: str) -> Callable[[Any], Any]:
    """How one column's values are written, chosen once per column (not per cell)."""
    if lookup == "status":
        return _label(Status)
    if lookup == "status_source":
        return _label(Source)
    *relations, name = lookup.split("__")
    for relation in relations:
        model = model._meta.get_field(relation).related_model
    field = model._meta.get_field(name)
    if isinstance(field, DateTimeField):
        return _utc_naive
    if isinstance(field, CharField | TextField):
        return _text
    return _plain


def _text(value: str | None) -> str:
    return formula_escape(value) if value else ""


def _utc_naive(value: datetime | None) -> datetime | str:
    # Spreadsheets take naive datetimes: UTC, as the column header says.
    if value is None:
        return ""
    return value.astimezone(UTC).replace(tzinfo=None, microsecond=0)


def _plain(value: Any) -> Any:
    return "" if value is None else value


def _label(choices: type[Status] | type[Source]) -> Callable[[str], str]:
    labels = {value: str(label) for value, label in choices.choices}

    def format_(value: str) -> str:
        return labels.get(value) or _text(value)

    return format_
