"""``python manage.py import_statuses FILE [--dry-run] [--user NAME] [--no-callbacks] [--json]``,
``import_statuses --new-conversions FILE …`` (a conversion upload: conversions that tracking
missed) and ``import_statuses --revert JOB_ID [--dry-run] …``.

Runs the admin's pipeline synchronously (``conversions.imports.services`` for the file, then the
change-set engine, ``conversions.change_sets.services``): stores the file as an import job (or
builds the revert of an applied job), validates it, prints the summary (the job page's figures,
status names and first 50 problems; ``--json`` prints the job page's keys as JSON instead) and,
unless ``--dry-run``, applies it. A dry run leaves no job anyone can confirm later: a file's job is
closed as "checked only", a revert's is deleted.

The job records who ran it: ``--user`` (also on its audit rows) and the OS user (``origin``).
A change set that needs a second person's approval is never applied by the command: the
command line cannot name an approver. The job waits on its page, like any other, for another
user allowed to approve, and the command exits with status 2; a job that names no ``--user``
cannot be approved by anyone (no one could show they are a second person), so run it with
``--user``. Exits with status 1 when nothing could be applied because the file (or the
revert) is unusable, 0 otherwise.
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from conversions.change_sets import services as change_sets
from conversions.change_sets.money import ChangeSetMoney, transition_text
from conversions.change_sets.summary import ImportSummary
from conversions.change_sets.tables import StagingTables, staging_drop
from conversions.imports import services
from conversions.models import ImportJob

PROBLEMS_SHOWN = 50


class Command(BaseCommand):
    help = "Validate and apply a bulk status file (CSV, XLS or XLSX), or revert an applied job."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?", help="The status file: .csv, .xls or .xlsx.")
        parser.add_argument(
            "--revert", type=int, metavar="JOB_ID", help="Revert this applied job instead."
        )
        parser.add_argument(
            "--new-conversions",
            action="store_true",
            help="FILE records conversions that tracking missed (ClickId, EventID, "
            "UserCompletedAt, Revenue, Reward…) instead of changing statuses.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Validate and print the summary only."
        )
        parser.add_argument("--user", help="Username recorded on the job and the audit rows.")
        parser.add_argument(
            "--no-callbacks",
            action="store_true",
            help="Apply without owing partners callbacks for these changes.",
        )
        parser.add_argument("--json", action="store_true", help="Print the summary as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        if bool(options["file"]) == bool(options["revert"]):
            raise CommandError("Give a status FILE, or --revert JOB_ID (not both).")
        user = self._user(options["user"])
        job = (
            self._revert(options["revert"], user)
            if options["revert"]
            else self._upload(Path(options["file"]), user, new=options["new_conversions"])
        )
        job.origin = f"command line (OS user {getpass.getuser()})"[:100]
        job.save(update_fields=["origin"])
        job = change_sets.import_job_validate(import_job=job)
        if job.state != ImportJob.State.VALIDATED:
            self._report(job, options)
            raise CommandError(job.error_message or f"Job {job.pk} is {job.state}.")
        if options["dry_run"]:
            note = f"Dry run: nothing was changed (job {job.pk})."
            if job.kind == ImportJob.Kind.REVERT:
                self._report(job, options, note=note)
                self._revert_forget(job)
            else:
                job = change_sets.import_job_check_only(import_job=job)
                self._report(job, options, note=note)
            return
        try:
            job = change_sets.import_job_confirm(
                import_job=job,
                user=user,
                send_callbacks=not options["no_callbacks"],
                queue_apply=False,
            )
        except PermissionDenied as error:
            self._report(job, options)
            if job.user_id:
                waits = f"Job {job.pk} waits on its page for a second person to approve it."
            else:  # no one could approve it: leave nothing waiting
                waits = f"Job {job.pk} is closed: run the command again with --user NAME."
                if job.kind == ImportJob.Kind.REVERT:
                    self._revert_forget(job)
                else:
                    change_sets.import_job_check_only(import_job=job)
            raise CommandError(f"{error} {waits}", returncode=2) from error
        job = change_sets.import_job_apply(import_job=job)
        self._report(job, options)
        if job.state != ImportJob.State.APPLIED:
            raise CommandError(job.error_message or f"Job {job.pk} is {job.state}.")

    def _user(self, name: str | None) -> Any:
        if not name:
            return None
        user = get_user_model().objects.filter(username=name).first()
        if user is None:
            raise CommandError(f"No user named {name!r}.")
        return user

    def _upload(self, path: Path, user: Any, *, new: bool) -> ImportJob:
        if not path.is_file():
            raise CommandError(f"{path}: no such file.")
        try:
            return services.import_job_create(
                user=user,
                upload=path,
                original_name=path.name,
                queue_validation=False,
                kind=ImportJob.Kind.UPLOAD if new else ImportJob.Kind.FILE,
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error

    def _revert(self, job_id: int, user: Any) -> ImportJob:
        reverted = ImportJob.objects.filter(pk=job_id).first()
        if reverted is None:
            raise CommandError(f"No job {job_id}.")
        try:
            return change_sets.import_job_revert(
                import_job=reverted, user=user, queue_validation=False
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error

    def _revert_forget(self, job: ImportJob) -> None:
        with transaction.atomic():  # a revert can be asked for again, for real
            staging_drop(StagingTables(job.pk))
            job.delete()

    # -- the summary ------------------------------------------------------------------------
    def _report(self, job: ImportJob, options: dict[str, Any], note: str = "") -> None:
        if options["json"]:
            self.stdout.write(json.dumps(job_json(job), indent=2, default=str))
            return
        for line in summary_lines(job):
            self.stdout.write(line)
        if note:
            self.stdout.write(note)


def job_json(job: ImportJob) -> dict[str, Any]:
    """The job as its page shows it: its facts, then the summary's keys."""
    return {
        "id": job.pk,
        "kind": job.kind,
        "state": job.state,
        "state_label": job.get_state_display(),
        "name": job.original_name,
        "reverts": job.reverts_id,
        "uploaded_by": getattr(job.user, "username", None),
        "confirmed_by": getattr(job.confirmed_by, "username", None),
        "approval_required": job.approval_required,
        "approval_reason": job.approval_reason,
        "error_message": job.error_message,
        **(job.summary or {}),
    }


def summary_lines(job: ImportJob) -> list[str]:
    """The job's summary as the page reads it, line by line."""
    lines = [f"Job {job.pk}: {job.original_name} ({job.get_kind_display()}), {job.state}"]
    summary = ImportSummary.from_json(job.summary)
    if summary is None:
        return lines
    revert = job.kind == ImportJob.Kind.REVERT
    lines.append(f"{'Conversions the job changed' if revert else 'Rows read'}: {summary.rows:,}")
    upload = job.kind == ImportJob.Kind.UPLOAD
    lines.append(f"{'New conversions' if upload else 'Will change'}: {summary.will_change_total:,}")
    lines += [f"  {transition_text(key)}: {n:,}" for key, n in summary.will_change.items()]
    if revert:
        lines.append(f"Changed since, left as they are: {summary.left_alone:,}")
    elif upload:
        lines.append(f"Not found: {summary.not_found:,}")
        lines.append(f"Invalid: {summary.invalid:,}")
        lines.append(f"Already recorded: {summary.conflicting:,}")
    else:
        lines.append(f"Unchanged (already in that status): {summary.unchanged:,}")
        lines.append(f"Not found: {summary.not_found:,}")
        lines.append(f"Invalid: {summary.invalid:,}")
        lines.append(f"Conflicting: {summary.conflicting:,}")
    for item in summary.fan_out:
        lines.append(
            f"Fan-out: {item.click_rows:,} click-only rows → {item.conversions:,} "
            f"conversions of offer {item.offer} ({item.offer_id})"
        )
    money = ChangeSetMoney.from_json(summary.money)
    for line in money.transitions:
        lines.append(
            f"Moves: {line.transition_text}: {line.conversions:,} conversions, "
            f"{line.payout_text} payout, {line.revenue_text} revenue"
        )
    for line in money.amounts:
        lines.append(
            f"Amounts: {line.amount_changes:,} conversions, payout {line.payout_change_text}, "
            f"revenue {line.revenue_change_text}"
        )
    for line in money.by_partner:
        lines.append(f"Callbacks to {line.label}: {line.callbacks:,}")
    if job.approval_required:
        lines.append(f"Needs a second person's approval: {job.approval_reason}.")
    lines += [f"  row {error.row}: {error.message}" for error in summary.errors[:PROBLEMS_SHOWN]]
    lines += [
        f"  conversion {item.conversion_id}: {item.status} now, left alone"
        for item in summary.left_alone_examples[:PROBLEMS_SHOWN]
    ]
    if job.error_report:
        lines.append(f"Rejected rows report: {job.error_report.path}")
    if summary.applied is not None:
        lines.append(
            f"Applied: {summary.applied_total:,} conversions changed"
            + "".join(f", {transition_text(k)}: {n:,}" for k, n in summary.applied.items())
            + f"; changed since the preview (left as they are): "
            f"{summary.changed_since_preview:,}; callbacks owed: {summary.callbacks:,}."
        )
    return lines
