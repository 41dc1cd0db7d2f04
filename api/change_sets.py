"""Bulk change sets over the Management API: a thin source of the change-set engine, as the
admin's import is.

- **From a JSON body** (``changes``, up to ``MAX_CHANGES``, keyed like a status file's columns:
  ``gk_click_id``, ``EventId``, ``Status``, ``Reason``): the changes are written as a CSV status
  file and handed to the import's own upload service (``import_job_create``), so that the worker
  reads, checks, stages and resolves them exactly as an uploaded file's rows (the same row rules
  and messages; ``changes[0]`` is row 2, the header being row 1).
- **From a file** (multipart, the admin import's formats): refused over ``IMPORT_MAX_UPLOAD_BYTES``
  before its body is read, then streamed to a temporary file by the import's own upload handlers
  (``conversions.imports.uploads``) and stored by ``import_job_create``.

Either way the job is of kind ``api``; its name and ``origin`` name the key (the admin's job
list and page show the name), and the audit rows its apply writes have source ``api`` and the
confirming user.
The check runs in a worker; ``dry_run`` checks and closes the job as ``checked`` in one
transaction (``dry_run.import_job_dry_run``): it is never confirmable. Confirm, approve and revert
are the engine's own services, with its rules (``approval``: never the creator's approval).
A key revoked while its upload streamed in creates nothing: the key is read again once the body
is in.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest

from api.models import ApiKey
from api.problems import ApiProblem
from api.status_changes import api_origin, job_url
from conversions.change_sets import services as change_sets
from conversions.change_sets import tasks
from conversions.change_sets.approval import confirm_refusal
from conversions.imports.services import import_job_create
from conversions.models import ImportJob
from conversions.reports.formulas import formula_escape

MAX_CHANGES = 100_000
# A JSON body of MAX_CHANGES changes with reasons of a sentence each fits well within this.
MAX_BODY_BYTES = 32 * 1024 * 1024
FILE_HEADER = ["gk_click_id", "EventId", "Status", "Reason"]
AMOUNT_HEADER = ["Payout", "Revenue"]
# One change of a JSON body, in FILE_HEADER's order, then its payout and revenue (None: kept).
ChangeRow = tuple[str, int | str | None, str, str, str | None, str | None]


def api_change_set_from_changes(
    *, api_key: ApiKey, changes: Sequence[ChangeRow], dry_run: bool, send_callbacks: bool
) -> ImportJob:
    """A change set from the JSON body's changes, each ``(gk_click_id, EventId, Status,
    Reason, Payout, Revenue)`` (``FILE_HEADER``'s order, then the amounts: columns of the file
    only when a change has one)."""
    amounts = any(payout is not None or revenue is not None for *_, payout, revenue in changes)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "api-changes.csv"
        with path.open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(FILE_HEADER + AMOUNT_HEADER if amounts else FILE_HEADER)
            # The reason as the export writes it (the import takes the apostrophe off a
            # formula-like reason again); the other columns are taken as they are.
            writer.writerows(
                (
                    click,
                    "" if event is None else event,
                    status,
                    formula_escape(reason),
                    *((payout or "", revenue or "") if amounts else ()),
                )
                for click, event, status, reason, payout, revenue in changes
            )
        return _job_created(
            api_key=api_key,
            upload=path,
            file_name=path.name,
            name=f"{_changes_count(len(changes))} sent as JSON with API key {api_key.name}",
            dry_run=dry_run,
            send_callbacks=send_callbacks,
        )


def api_change_set_from_file(
    *,
    api_key: ApiKey,
    upload: Any,
    dry_run: bool,
    send_callbacks: bool,
    kind: str = ImportJob.Kind.API,
) -> ImportJob:
    """A change set from an uploaded file (a Django ``UploadedFile``): a status file, or with
    ``kind`` ``ImportJob.Kind.UPLOAD`` a conversion upload (conversions that tracking missed,
    ``conversions.imports.upload_staging``; source ``manual upload``, like the admin's)."""
    name = str(upload.name or "upload")
    what = "conversions sent" if kind == ImportJob.Kind.UPLOAD else "sent"
    return _job_created(
        api_key=api_key,
        upload=upload,
        file_name=name,
        name=f"{name} ({what} with API key {api_key.name})",
        dry_run=dry_run,
        send_callbacks=send_callbacks,
        kind=kind,
    )


def _changes_count(count: int) -> str:
    return "1 change" if count == 1 else f"{count:,} changes"


def _job_created(
    *,
    api_key: ApiKey,
    upload: Any,
    file_name: str,
    name: str,
    dry_run: bool,
    send_callbacks: bool,
    kind: str = ImportJob.Kind.API,
) -> ImportJob:
    _key_still_valid(api_key)
    try:
        with transaction.atomic():
            job = import_job_create(
                user=api_key.user,
                upload=upload,
                original_name=file_name,
                queue_validation=False,
                kind=kind,
            )
            job.original_name = name[:255]
            job.origin = api_origin(api_key)
            job.send_callbacks = send_callbacks
            job.save(update_fields=["kind", "original_name", "origin", "send_callbacks"])
            task = tasks.import_job_dry_run_task if dry_run else tasks.import_job_validate_task
            task.delay_on_commit(job.pk)
    except ValidationError as error:
        raise ApiProblem(
            422, "unusable_file", "The changes cannot be used", " ".join(error.messages)
        ) from None
    return job


def _key_still_valid(api_key: ApiKey) -> None:
    """The key is read again (it may have been revoked while a large body streamed in)."""
    current = ApiKey.objects.filter(pk=api_key.pk).first()
    if current is None or current.revoked_at is not None:
        raise ApiProblem(
            401, "revoked_key", "API key refused", "The API key was revoked; nothing was created."
        )
    if not current.is_usable():
        raise ApiProblem(
            401, "expired_key", "API key refused", "The API key has expired; nothing was created."
        )


# --- confirm, approve, revert ---------------------------------------------------------------


def api_change_set_confirm(*, import_job: ImportJob, api_key: ApiKey) -> ImportJob:
    """Confirm a checked change set that needs no second person (the engine decides again)."""
    if import_job.approval_required:
        raise _approval_problem(import_job, api_key)
    return _confirmed(import_job, api_key)


def api_change_set_approve(*, import_job: ImportJob, api_key: ApiKey) -> ImportJob:
    """Approve (and so confirm) a change set that needs a second person: another user's key."""
    if not import_job.approval_required:
        raise ApiProblem(
            409,
            "approval_not_required",
            "No approval needed",
            "This change set needs no second person: confirm it (POST …/confirm).",
        )
    return _confirmed(import_job, api_key)


def _confirmed(import_job: ImportJob, api_key: ApiKey) -> ImportJob:
    try:
        return change_sets.import_job_confirm(
            import_job=import_job, user=api_key.user, send_callbacks=import_job.send_callbacks
        )
    except PermissionDenied:
        import_job.refresh_from_db()
        raise _approval_problem(import_job, api_key) from None
    except ValidationError as error:
        raise ApiProblem(409, "invalid_state", "Cannot confirm", " ".join(error.messages)) from None


def _approval_problem(import_job: ImportJob, api_key: ApiKey) -> ApiProblem:
    refusal = confirm_refusal(import_job, api_key.user) or (
        f"This change needs a second person's approval ({import_job.approval_reason})."
    )
    return ApiProblem(
        403,
        "approval_required",
        "Approval required",
        f"{refusal} Through the API: POST …/change-sets/{import_job.pk}/approve with a key "
        "of another user, with the scope change-sets:approve.",
        approval_reason=import_job.approval_reason,
    )


def api_change_set_revert(*, import_job: ImportJob, api_key: ApiKey) -> ImportJob:
    """The change set that reverts an applied one (the existing one when asked again)."""
    try:
        revert = change_sets.import_job_revert(import_job=import_job, user=api_key.user)
    except ValidationError as error:
        raise ApiProblem(409, "invalid_state", "Cannot revert", " ".join(error.messages)) from None
    if not revert.origin and revert.user_id == api_key.user_id:
        revert.origin = api_origin(api_key)
        revert.save(update_fields=["origin"])
    return revert


# --- addresses ------------------------------------------------------------------------------


def change_set_url(request: HttpRequest, import_job: ImportJob) -> str:
    return request.build_absolute_uri(f"/api/v1/change-sets/{import_job.pk}")


def change_set_page_url(request: HttpRequest, import_job: ImportJob) -> str:
    return job_url(request, import_job)
