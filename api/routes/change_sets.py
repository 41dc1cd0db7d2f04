"""Bulk change sets: created from a JSON body or a file (202 at once: a worker checks them),
read (state, progress, preview, outcome), paged through row by row, confirmed, approved by a
second person, reverted. The change-set engine does the work (``api.change_sets``).

Scopes: ``change-sets:write`` creates, confirms and reverts; ``change-sets:approve`` approves
(its user needs "Can approve large status changes", and may not be the one who asked); either
reads. Every route needs the user's permission to change conversions' statuses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import suppress

from django.core import signing
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from ninja import Query, Router, Schema
from ninja.responses import Status as Answer
from pydantic import Field

from api.auth import key_required
from api.change_set_fields import change_set_fields, outcome_fields, outcome_row
from api.change_sets import (
    api_change_set_approve,
    api_change_set_confirm,
    api_change_set_from_changes,
    api_change_set_from_file,
    api_change_set_revert,
    change_set_url,
)
from api.models import ApiKey, Scope
from api.problems import ApiProblem
from api.schemas import ChangeSetIn, ChangeSetOut, OutcomePage, Problem
from conversions.change_sets.outcomes import (
    Outcome,
    OutcomesBusy,
    change_set_outcomes_all,
    change_set_outcomes_page,
)
from conversions.imports.uploads import import_upload_handlers, upload_size_refusal
from conversions.models import ImportJob
from conversions.reports.csv_writer import csv_chunks

router = Router(tags=["Change sets"])

STATUS_PERMISSION = "conversions.change_conversion_status"
UPLOAD_PERMISSION = "conversions.upload_conversions"  # beside the status one, for an upload
APPROVE_PERMISSION = "conversions.approve_large_status_change"
_ERRORS = {
    400: Problem,
    401: Problem,
    403: Problem,
    404: Problem,
    409: Problem,
    413: Problem,
    422: Problem,
}
_CURSOR_SALT = "api.change_sets.outcomes"
OUTCOME_CSV_HEADER = [
    "Outcome",
    "Row",
    "EventId",
    "gk_click_id",
    "Old status",
    "New status",
    "Reason",
    "Message",
    "New payout",
    "New revenue",
]


def _writer(request: HttpRequest) -> ApiKey:
    return key_required(request, scope=Scope.CHANGE_SETS_WRITE, permission=STATUS_PERMISSION)


def _reader(request: HttpRequest) -> ApiKey:
    api_key: ApiKey = request.auth  # type: ignore[attr-defined]
    if (
        Scope.CHANGE_SETS_APPROVE in api_key.scopes
        and Scope.CHANGE_SETS_WRITE not in api_key.scopes
    ):
        return key_required(request, scope=Scope.CHANGE_SETS_APPROVE, permission=STATUS_PERMISSION)
    return _writer(request)


def _approver(request: HttpRequest) -> ApiKey:
    key_required(request, scope=Scope.CHANGE_SETS_APPROVE, permission=STATUS_PERMISSION)
    return key_required(request, scope=Scope.CHANGE_SETS_APPROVE, permission=APPROVE_PERMISSION)


def _job(change_set_id: int) -> ImportJob:
    job = (
        ImportJob.objects.select_related("user", "confirmed_by", "reverts")
        .filter(pk=change_set_id)
        .first()
    )
    if job is None:
        raise ApiProblem(
            404, "change_set_not_found", "Change set not found", f"No change set {change_set_id}."
        )
    return job


def _accepted(request: HttpRequest, response: HttpResponse, job: ImportJob) -> Answer:
    job.refresh_from_db()
    response["Location"] = change_set_url(request, job)
    return Answer(202, change_set_fields(request, job))


@router.post(
    "/change-sets",
    response={202: ChangeSetOut, **_ERRORS},
    url_name="change_set_create",
    summary="Create a change set from a JSON body",
    description="Up to 100,000 changes keyed like a status file's columns (gk_click_id, "
    "EventId, Status, Reason, and the new Payout and Revenue). Answers 202 at once with the "
    "change set (state uploaded); a worker checks it: poll its URL (Location) until validated, "
    "then confirm it.",
)
def change_set_create(request: HttpRequest, response: HttpResponse, body: ChangeSetIn) -> Answer:
    api_key = _writer(request)
    job = api_change_set_from_changes(
        api_key=api_key,
        changes=[
            (c.gk_click_id, c.EventId, c.Status, c.Reason, c.Payout, c.Revenue)
            for c in body.changes
        ],
        dry_run=body.dry_run,
        send_callbacks=body.send_callbacks,
    )
    return _accepted(request, response, job)


_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "A status file: CSV, XLS or XLSX, at most "
                            "IMPORT_MAX_UPLOAD_BYTES (100 MB).",
                        },
                        "dry_run": {"type": "boolean", "default": False},
                        "send_callbacks": {"type": "boolean", "default": True},
                    },
                }
            }
        },
    }
}


def _uploaded_file(request: HttpRequest) -> UploadedFile:
    """The request's ``file``, streamed to a temporary file by the admin import's own upload
    handlers (refused, 413, over its limit: before the body is read when Content-Length says
    so, else as soon as the stream passes it)."""
    refusal = upload_size_refusal(request)
    if refusal is None:
        with suppress(AttributeError):  # the body was already parsed (then it is in memory)
            request.upload_handlers = import_upload_handlers(request)
        upload = request.FILES.get("file")
        refusal = upload_size_refusal(request)
    if refusal:
        raise ApiProblem(413, "body_too_large", "File too large", refusal)
    if upload is None and "file" in request.POST:
        raise ApiProblem(
            422,
            "unusable_file",
            "The changes cannot be used",
            "`file` came as a form value, not a file: send it as a file part with its file name "
            "(its extension, .csv, .xls or .xlsx, says the format).",
        )
    if upload is None:
        raise ApiProblem(
            422,
            "invalid_request",
            "Invalid request",
            "Send the status file as the multipart/form-data field `file`.",
            errors=[{"loc": ["form", "file"], "msg": "Field required", "type": "missing"}],
        )
    return upload


_BOOLEANS = {"true": True, "1": True, "on": True, "false": False, "0": False, "off": False}


def _form_flag(request: HttpRequest, name: str, default: bool) -> bool:
    value = request.POST.get(name)
    if value is None or value == "":
        return default
    if value.strip().lower() not in _BOOLEANS:
        raise ApiProblem(
            422,
            "invalid_request",
            "Invalid request",
            f"{name}: send true or false.",
            errors=[{"loc": ["form", name], "msg": "send true or false", "type": "bool"}],
        )
    return _BOOLEANS[value.strip().lower()]


@router.post(
    "/change-sets/upload",
    response={202: ChangeSetOut, **_ERRORS},
    url_name="change_set_upload",
    summary="Create a change set from a status file",
    description="multipart/form-data with `file` (the admin import's formats and limit, "
    "refused before the body is read when its Content-Length is over it), optionally "
    "`dry_run` and `send_callbacks`. Answers 202 at once, as the JSON route does.",
    openapi_extra=_UPLOAD_BODY,
)
def change_set_upload(request: HttpRequest, response: HttpResponse) -> Answer:
    return _file_change_set(request, response, _writer(request), ImportJob.Kind.API)


@router.post(
    "/conversion-uploads",
    response={202: ChangeSetOut, **_ERRORS},
    url_name="conversion_upload",
    summary="Record conversions that tracking missed, from a file",
    description="multipart/form-data with `file`: a conversion upload (columns `ClickId`, "
    "`EventID`, `UserCompletedAt`, `Revenue`, `Reward`, optionally `TransactionId`, `Status`, "
    "`Reason`; the admin import's formats and limit), optionally `dry_run` and "
    "`send_callbacks`. A change set of new conversions: read, confirm, approve, page through "
    "its outcomes and revert it (its revert rejects them) at `/change-sets/{id}`. Needs "
    "`change-sets:write` and a user with the permission `conversions.upload_conversions`.",
    openapi_extra=_UPLOAD_BODY,
)
def conversion_upload(request: HttpRequest, response: HttpResponse) -> Answer:
    api_key = key_required(request, scope=Scope.CHANGE_SETS_WRITE, permission=UPLOAD_PERMISSION)
    _writer(request)
    return _file_change_set(request, response, api_key, ImportJob.Kind.UPLOAD)


def _file_change_set(
    request: HttpRequest, response: HttpResponse, api_key: ApiKey, kind: str
) -> Answer:
    """A change set of ``kind`` from the request's ``file`` and form flags: 202 at once."""
    job = api_change_set_from_file(
        api_key=api_key,
        upload=_uploaded_file(request),
        dry_run=_form_flag(request, "dry_run", False),
        send_callbacks=_form_flag(request, "send_callbacks", True),
        kind=kind,
    )
    return _accepted(request, response, job)


@router.get(
    "/change-sets/{change_set_id}",
    response={200: ChangeSetOut, **_ERRORS},
    summary="A change set: its state, progress, preview and outcome",
)
def change_set_detail(request: HttpRequest, change_set_id: int) -> dict:
    _reader(request)
    return change_set_fields(request, _job(change_set_id))


class OutcomesQuery(Schema):
    cursor: str | None = Field(default=None, description="next_cursor of the previous page.")
    limit: int = Field(default=100, ge=1, le=1000)


def _position(cursor: str | None, job: ImportJob) -> tuple[int, int] | None:
    if cursor is None:
        return None
    try:
        data = signing.loads(cursor, salt=_CURSOR_SALT)
        if int(data["job"]) != job.pk:
            raise ValueError
        return int(data["section"]), int(data["key"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise ApiProblem(
            400,
            "invalid_cursor",
            "Invalid cursor",
            "Pass back next_cursor exactly as a previous page of this change set gave it.",
        ) from None


def _busy() -> ApiProblem:
    return ApiProblem(
        409,
        "change_set_applying",
        "Being applied",
        "The change set is being applied right now; its outcomes can be read once it is.",
    )


@router.get(
    "/change-sets/{change_set_id}/outcomes",
    response={200: OutcomePage, **_ERRORS},
    summary="Page through a change set's per-row outcomes",
    description="The rejected rows (by row number, with the reason), then each conversion of "
    "the change set (by id): will_change or unchanged before it is applied; changed, "
    "unchanged or left_alone (its status changed since the check) after. Kept with the job.",
)
def change_set_outcomes(
    request: HttpRequest, change_set_id: int, query: Query[OutcomesQuery]
) -> dict:
    _reader(request)
    job = _job(change_set_id)
    after = _position(query.cursor, job)
    try:
        page, following = change_set_outcomes_page(import_job=job, after=after, limit=query.limit)
    except OutcomesBusy:
        raise _busy() from None
    next_cursor = None
    if following is not None:
        section, key = following
        next_cursor = signing.dumps(
            {"job": job.pk, "section": section, "key": key}, salt=_CURSOR_SALT
        )
    return {"items": [outcome_fields(item) for item in page], "next_cursor": next_cursor}


@router.get(
    "/change-sets/{change_set_id}/outcomes.csv",
    response=_ERRORS,  # 200: the CSV itself (openapi_extra), streamed
    summary="Every per-row outcome of a change set, as CSV",
    openapi_extra={
        "responses": {
            "200": {
                "description": "CSV (UTF-8 with a byte order mark), one line per outcome.",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        }
    },
)
def change_set_outcomes_csv(request: HttpRequest, change_set_id: int) -> StreamingHttpResponse:
    _reader(request)
    job = _job(change_set_id)
    outcomes = change_set_outcomes_all(job)
    try:
        first = next(outcomes, None)  # refused now, not halfway through the download
    except OutcomesBusy:
        raise _busy() from None
    rows = (outcome_row(item) for item in _chained(first, outcomes))
    response = StreamingHttpResponse(
        csv_chunks(OUTCOME_CSV_HEADER, rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="change-set-{job.pk}-outcomes.csv"'
    return response


def _chained(first: Outcome | None, rest: Iterator[Outcome]) -> Iterator[Outcome]:
    if first is not None:
        yield first
        yield from rest


def _job_action(
    name: str,
    *,
    key: Callable[[HttpRequest], ApiKey],
    act: Callable[..., ImportJob],
    summary: str,
    description: str,
) -> None:
    """``POST /change-sets/{id}/<name>``: ``act(import_job=…, api_key=…)`` with the key
    ``key`` accepts; 202 with the change set it answers."""

    def action(request: HttpRequest, response: HttpResponse, change_set_id: int) -> Answer:
        api_key = key(request)
        return _accepted(request, response, act(import_job=_job(change_set_id), api_key=api_key))

    router.post(
        f"/change-sets/{{change_set_id}}/{name}",
        response={202: ChangeSetOut, **_ERRORS},
        url_name=f"change_set_{name}",
        operation_id=f"api_routes_change_sets_change_set_{name}",  # as django-ninja names
        summary=summary,
        description=description,
    )(action)


_job_action(
    "confirm",
    key=_writer,
    act=api_change_set_confirm,
    summary="Confirm a checked change set",
    description="Queues its apply (202: poll its URL until applied). A change set that needs "
    "a second person's approval is a 403 approval_required: another user's key approves it.",
)
_job_action(
    "approve",
    key=_approver,
    act=api_change_set_approve,
    summary="Approve (and confirm) a change set that needs a second person",
    description="With a key of another user than the one who asked for it, with the scope "
    "change-sets:approve and the permission to approve large status changes.",
)
_job_action(
    "revert",
    key=_writer,
    act=api_change_set_revert,
    summary="Revert an applied change set",
    description="Answers the change set that puts each conversion back where it still has the "
    "status this one set (the same one when asked again); it is checked, then confirmed or "
    "approved like any other.",
)
