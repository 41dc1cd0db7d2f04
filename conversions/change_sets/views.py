"""Admin views of the bulk status import.

The import job views take a job the admin has already loaded and checked permission for
(``ImportJobAdmin`` wires them under ``/admin/conversions/importjob/<id>/``); they call the
import services and turn a ``ValidationError`` into a message. The report export is
``conversions.reports.export``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
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
from django.utils import timezone

from conversions.change_sets import services
from conversions.change_sets.approval import confirm_refusal
from conversions.change_sets.change_list import change_list_rows
from conversions.change_sets.forms import ImportJobConfirmForm
from conversions.change_sets.money import ChangeSetMoney, transition_text
from conversions.change_sets.summary import ImportSummary
from conversions.models import ImportJob

# States in which a worker is (or is about to be) busy with the job: the page polls.
RUNNING_STATES = frozenset(
    {
        ImportJob.State.UPLOADED,
        ImportJob.State.VALIDATING,
        ImportJob.State.QUEUED,
        ImportJob.State.APPLYING,
    }
)


def import_job_url(import_job: ImportJob) -> str:
    return reverse("admin:conversions_importjob_change", args=[import_job.pk])


# --- the import job page ------------------------------------------------------------------------


def import_job_page(
    request: HttpRequest, *, import_job: ImportJob, admin_context: dict[str, Any]
) -> TemplateResponse:
    """The job's page: state, live progress, the preview with the money it moves and who may
    confirm it, confirmation, outcome, retry, revert."""
    summary = ImportSummary.from_json(import_job.summary)
    validated = import_job.state == ImportJob.State.VALIDATED
    context = {
        **admin_context,
        "title": f"{import_job.get_kind_display()} {import_job.pk}: {import_job.original_name}",
        "job": import_job,
        "running": import_job.state in RUNNING_STATES,
        "status": import_job_status_payload(import_job),
        "preview": import_job_preview(import_job),
        "money": ChangeSetMoney.from_json(summary.money) if summary else None,
        "can_confirm": validated,
        "confirm_refusal": confirm_refusal(import_job, request.user) if validated else "",
        "can_retry": import_job.state == ImportJob.State.FAILED,
        "confirm_form": ImportJobConfirmForm(),
        "same_file": _same_file(import_job),
        "revert": _revert_of(import_job),
        "can_revert": import_job.state == ImportJob.State.APPLIED,
        "has_change_list": validated or import_job.state == ImportJob.State.APPLIED,
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
    summary = ImportSummary.from_json(import_job.summary)
    if summary is None:
        return None
    will_change = _transition_rows(summary.will_change)
    applied_rows = _transition_rows(summary.applied or {})
    return {
        "rows": summary.rows,
        "will_change": will_change,
        "will_change_total": summary.will_change_total,
        "unchanged": summary.unchanged,
        "not_found": summary.not_found,
        "invalid": summary.invalid,
        "conflicting": summary.conflicting,
        "fan_out": summary.fan_out,
        "fan_out_click_rows": sum(item.click_rows for item in summary.fan_out),
        "fan_out_conversions": sum(item.conversions for item in summary.fan_out),
        "errors": summary.errors[:50],
        "rejected": summary.rejected_rows,
        "applied": summary.applied is not None,
        "applied_rows": applied_rows,
        "applied_total": summary.applied_total,
        "changed_since_preview": summary.changed_since_preview,
        "left_alone": summary.left_alone,
        "left_alone_examples": summary.left_alone_examples,
    }


def _transition_rows(counts: dict[str, int]) -> list[tuple[str, int]]:
    """``{"pending->success": n}`` as ``[("Pending → Success", n)]``, in key order."""
    return [(transition_text(key), count) for key, count in sorted(counts.items())]


def _same_file(import_job: ImportJob) -> ImportJob | None:
    """The latest other job, applied, of a file with the same SHA-256."""
    if not import_job.file_sha256:
        return None
    return (
        ImportJob.objects.filter(file_sha256=import_job.file_sha256, state=ImportJob.State.APPLIED)
        .exclude(pk=import_job.pk)
        .select_related("confirmed_by")
        .order_by("-pk")
        .first()
    )


def _when(moment: datetime | None) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z") if moment else "—"


def _revert_of(import_job: ImportJob) -> ImportJob | None:
    return ImportJob.objects.filter(reverts=import_job).first()


def import_job_confirm(request: HttpRequest, *, import_job: ImportJob) -> HttpResponseRedirect:
    """POST: apply a validated job in the background. A repeated POST (a double click, a
    resubmitted form) answers with the job's page: the job is applied once."""
    form = ImportJobConfirmForm(request.POST)
    form.is_valid()
    send_callbacks = not form.cleaned_data.get("send_no_callbacks", False)
    already = import_job.confirmed_at is not None
    try:
        job = services.import_job_confirm(
            import_job=import_job, user=request.user, send_callbacks=send_callbacks
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return HttpResponseRedirect(import_job_url(import_job))
    if already:
        messages.info(
            request,
            f"Already confirmed by {job.confirmed_by or 'a script'} at "
            f"{_when(job.confirmed_at)}: it is applied once.",
        )
    else:
        note = "" if send_callbacks else " No partner callbacks will be sent for them."
        messages.success(
            request,
            f"Confirmed: the changes are being applied in the background.{note}",
        )
    return HttpResponseRedirect(import_job_url(import_job))


def import_job_revert(request: HttpRequest, *, import_job: ImportJob) -> HttpResponseRedirect:
    """POST: build the revert of an applied job (or open the one that exists) and show it."""
    try:
        revert = services.import_job_revert(import_job=import_job, user=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return HttpResponseRedirect(import_job_url(import_job))
    messages.success(
        request,
        f"Revert of job {import_job.pk}: its preview shows what will be put back, for you "
        "(or an approver) to confirm.",
    )
    return HttpResponseRedirect(import_job_url(revert))


def import_job_changes_download(
    request: HttpRequest, *, import_job: ImportJob
) -> StreamingHttpResponse:
    """The CSV of every conversion the job changes (before its apply) or changed (after)."""
    if import_job.state not in (ImportJob.State.VALIDATED, ImportJob.State.APPLIED):
        raise Http404("This job has no change list: it is not checked or applied.")
    response = StreamingHttpResponse(
        change_list_rows(import_job), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="job-{import_job.pk}-changes.csv"'
    return response


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
