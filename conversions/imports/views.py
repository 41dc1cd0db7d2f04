"""Admin views of the bulk status import and the conversion report export.

The import job views take a job the admin has already loaded and checked permission for
(``ImportJobAdmin`` wires them under ``/admin/conversions/importjob/<id>/``); they call the
import services and turn a ``ValidationError`` into a message. The export streams, CSV and XLSX
(``conversions.imports.xlsx_export``) alike, row by row over a server-side cursor.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import CharField, DateTimeField, QuerySet, TextField
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.template.response import TemplateResponse
from django.urls import reverse

from conversions.imports import services
from conversions.imports.forms import ImportJobConfirmForm
from conversions.imports.resources import ConversionReportResource
from conversions.imports.xlsx_export import xlsx_stream
from conversions.models import ImportJob, Source, Status

# States in which a worker is (or is about to be) busy with the job: the page polls.
RUNNING_STATES = frozenset(
    {
        ImportJob.State.UPLOADED,
        ImportJob.State.VALIDATING,
        ImportJob.State.QUEUED,
        ImportJob.State.APPLYING,
    }
)
# Rows per chunk of the streamed CSV and per server-side cursor fetch.
EXPORT_CHUNK_ROWS = 2000
# One XLSX sheet holds 1,048,576 rows, the header included.
XLSX_MAX_ROWS = 1_048_575
# A cell starting with one of these is a formula to a spreadsheet: exported with a leading '.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def import_job_url(import_job: ImportJob) -> str:
    return reverse("admin:conversions_importjob_change", args=[import_job.pk])


# --- the import job page ------------------------------------------------------------------------


def import_job_page(
    request: HttpRequest, *, import_job: ImportJob, admin_context: dict[str, Any]
) -> TemplateResponse:
    """The job's page: state, live progress, the preview, confirmation, outcome, retry."""
    context = {
        **admin_context,
        "title": f"Import {import_job.pk}: {import_job.original_name}",
        "job": import_job,
        "running": import_job.state in RUNNING_STATES,
        "status": import_job_status_payload(import_job),
        "preview": import_job_preview(import_job),
        "can_confirm": import_job.state == ImportJob.State.VALIDATED,
        "can_retry": import_job.state == ImportJob.State.FAILED,
        "confirm_form": ImportJobConfirmForm(),
    }
    return TemplateResponse(request, "admin/conversions/importjob/job.html", context)


def import_job_status_payload(import_job: ImportJob) -> dict[str, Any]:
    done, total = import_job.progress_done, import_job.progress_total
    if import_job.state == ImportJob.State.APPLIED:
        percent = 100
    elif total > 0:
        percent = min(100, int(done * 100 / total))
    else:
        percent = 0
    return {
        "id": import_job.pk,
        "state": import_job.state,
        "state_label": import_job.get_state_display(),
        "running": import_job.state in RUNNING_STATES,
        "progress_done": done,
        "progress_total": total,
        "percent": percent,
        "progress_text": _progress_text(import_job, percent),
        "error_message": import_job.error_message,
    }


def _progress_text(import_job: ImportJob, percent: int) -> str:
    state, total = import_job.state, import_job.progress_total
    if state == ImportJob.State.APPLIED:
        return "Done: 100%"
    if state == ImportJob.State.UPLOADED:
        return "Uploaded: waiting for a worker to check the file…"
    if state == ImportJob.State.QUEUED:
        return "Queued: waiting for a worker to apply the changes…"
    if state == ImportJob.State.VALIDATING and total:
        # Validation progress counts bytes (or rows) read: only the share means anything.
        return f"Checking the file: {percent}%"
    if state == ImportJob.State.APPLYING and total:
        done = min(import_job.progress_done, total)
        return f"Applying: {done:,} of {total:,} conversions ({percent}%)"
    return f"{import_job.get_state_display()}…"


def import_job_status(request: HttpRequest, *, import_job: ImportJob) -> JsonResponse:
    """JSON polled by the job page's progress bar."""
    return JsonResponse(import_job_status_payload(import_job))


def import_job_preview(import_job: ImportJob) -> dict[str, Any] | None:
    """The validation summary (and, once applied, the outcome) in the shape the page shows."""
    summary = import_job.summary or {}
    if "rows" not in summary:
        return None
    will_change = [
        (*_transition_labels(key), count)
        for key, count in sorted((summary.get("will_change") or {}).items())
    ]
    fan_out = list(summary.get("fan_out") or [])
    applied = summary.get("applied")
    applied_rows = (
        [(*_transition_labels(key), count) for key, count in sorted(applied.items())]
        if isinstance(applied, dict)
        else []
    )
    return {
        "rows": summary.get("rows", 0),
        "will_change": will_change,
        "will_change_total": sum(count for _, _, count in will_change),
        "unchanged": summary.get("unchanged", 0),
        "not_found": summary.get("not_found", 0),
        "invalid": summary.get("invalid", 0),
        "conflicting": summary.get("conflicting", 0),
        "fan_out": fan_out,
        "fan_out_click_rows": sum(item.get("click_rows", 0) for item in fan_out),
        "fan_out_conversions": sum(item.get("conversions", 0) for item in fan_out),
        "errors": list(summary.get("errors") or [])[:50],
        "rejected": sum(
            summary.get(key, 0) or 0 for key in ("not_found", "invalid", "conflicting")
        ),
        "applied": applied is not None,
        "applied_rows": applied_rows,
        "applied_total": (
            sum(count for _, _, count in applied_rows)
            if isinstance(applied, dict)
            else (applied or 0)
        ),
        "changed_since_preview": summary.get("changed_since_preview", 0),
    }


def _transition_labels(key: str) -> tuple[str, str]:
    old, _, new = key.partition("->")
    return _status_label(old), _status_label(new)


def _status_label(value: str) -> str:
    try:
        return Status(value).label
    except ValueError:
        return value


def import_job_confirm(request: HttpRequest, *, import_job: ImportJob) -> HttpResponseRedirect:
    """POST: apply a validated job in the background."""
    form = ImportJobConfirmForm(request.POST)
    form.is_valid()
    send_callbacks = not form.cleaned_data.get("send_no_callbacks", False)
    try:
        services.import_job_confirm(
            import_job=import_job, user=request.user, send_callbacks=send_callbacks
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        note = "" if send_callbacks else " No partner callbacks will be sent for them."
        messages.success(
            request,
            f"Import confirmed: the changes are being applied in the background.{note}",
        )
    return HttpResponseRedirect(import_job_url(import_job))


def import_job_retry(request: HttpRequest, *, import_job: ImportJob) -> HttpResponseRedirect:
    """POST: run a failed job again (nothing of a failed apply was kept)."""
    try:
        services.import_job_retry(import_job=import_job)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Import queued again.")
    return HttpResponseRedirect(import_job_url(import_job))


def import_job_report_download(request: HttpRequest, *, import_job: ImportJob) -> FileResponse:
    """The CSV of every rejected row (row number, original values, reason)."""
    if not import_job.error_report:
        raise Http404("This import has no rejected rows.")
    try:
        report = import_job.error_report.open("rb")
    except FileNotFoundError as error:
        raise Http404("The rejected-row report of this import is no longer stored.") from error
    return FileResponse(
        report,
        as_attachment=True,
        filename=f"import-{import_job.pk}-rejected-rows.csv",
        content_type="text/csv",
    )


# --- the conversion report export ---------------------------------------------------------------


def conversion_report_response(
    *, queryset: QuerySet, file_format: str, filename: str
) -> StreamingHttpResponse:
    """The report of ``queryset`` (the list as filtered) as a download, CSV or XLSX."""
    headers = [header for header, _ in ConversionReportResource.report_columns()]
    rows = conversion_report_rows(queryset)
    if file_format == "csv":
        response = StreamingHttpResponse(
            _csv_chunks(headers, rows), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    if file_format == "xlsx":
        response = StreamingHttpResponse(
            xlsx_stream(headers, islice(rows, XLSX_MAX_ROWS), sheet_name="Conversions"),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    raise ValueError(f"Unknown export format {file_format!r}")


def conversion_report_rows(queryset: QuerySet) -> Iterator[list[Any]]:
    """The report's rows, formatted, over a server-side cursor (no model instances)."""
    lookups = [lookup for _, lookup in ConversionReportResource.report_columns()]
    formatters = [_column_formatter(queryset.model, lookup) for lookup in lookups]
    values = queryset.values_list(*lookups).iterator(chunk_size=EXPORT_CHUNK_ROWS)
    for row in values:
        yield [format_(value) for format_, value in zip(formatters, row, strict=True)]


def formula_escape(value: str) -> str:
    """Prefix a cell a spreadsheet would run as a formula with an apostrophe."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


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


def _csv_chunks(headers: list[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    # The BOM makes Excel read the file as UTF-8; the import accepts it.
    buffer.write("\ufeff")
    writer.writerow(headers)
    for count, row in enumerate(rows, start=1):
        writer.writerow(
            [value.isoformat(sep=" ") if isinstance(value, datetime) else value for value in row]
        )
        if count % EXPORT_CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def xlsx_too_many_rows(queryset: QuerySet) -> bool:
    """Whether the report has more rows than one XLSX sheet holds (without counting them all)."""
    return queryset.order_by().values("pk")[XLSX_MAX_ROWS : XLSX_MAX_ROWS + 1].exists()
