"""``python manage.py import_statuses FILE [--dry-run] [--user NAME] [--no-callbacks]``.

Runs the admin upload's pipeline (``conversions.imports.services``) synchronously: stores the
file as an import job, validates it, prints the summary and, unless ``--dry-run``, applies it.
Exits with status 1 when the file is unusable (nothing could be applied), 0 otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from conversions.imports import services
from conversions.imports.summary import ImportSummary
from conversions.models import ImportJob


class Command(BaseCommand):
    help = "Validate and apply a bulk status file (CSV, XLS or XLSX), as the admin import does."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="The status file: .csv, .xls or .xlsx.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Validate and print the summary only."
        )
        parser.add_argument("--user", help="Username recorded on the job and the audit rows.")
        parser.add_argument(
            "--no-callbacks",
            action="store_true",
            help="Apply without owing partners callbacks for these changes.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file.")
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"No user named {options['user']!r}.")
        try:
            job = services.import_job_create(
                user=user, upload=path, original_name=path.name, queue_validation=False
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        job = services.import_job_validate(import_job=job)
        self._summary_print(job)
        if job.state != ImportJob.State.VALIDATED:
            raise CommandError(job.error_message or f"Import {job.pk} is {job.state}.")
        if options["dry_run"]:
            self.stdout.write(f"Dry run: nothing was changed (import job {job.pk}).")
            return
        job = services.import_job_confirm(
            import_job=job,
            user=user,
            send_callbacks=not options["no_callbacks"],
            queue_apply=False,
        )
        job = services.import_job_apply(import_job=job)
        if job.state != ImportJob.State.APPLIED:
            raise CommandError(job.error_message or f"Import {job.pk} is {job.state}.")
        summary = ImportSummary.from_json(job.summary)
        assert summary is not None and summary.applied is not None  # noqa: S101 -- applied
        self.stdout.write(
            f"Applied: {summary.applied_total:,} conversions changed"
            + "".join(
                f", {key.replace('->', ' → ')}: {count:,}" for key, count in summary.applied.items()
            )
            + f"; changed since the preview (left as they are): "
            f"{summary.changed_since_preview:,}; callbacks owed: {summary.callbacks:,}."
        )

    def _summary_print(self, job: ImportJob) -> None:
        summary = ImportSummary.from_json(job.summary)
        write = self.stdout.write
        write(f"Import job {job.pk}: {job.original_name} ({job.file_format}), {job.state}")
        if summary is None:
            return
        write(f"Rows read: {summary.rows:,}")
        write(f"Will change: {summary.will_change_total:,}")
        for key, count in summary.will_change.items():
            write(f"  {key.replace('->', ' → ')}: {count:,}")
        write(f"Unchanged (already in that status): {summary.unchanged:,}")
        write(f"Not found: {summary.not_found:,}")
        write(f"Invalid: {summary.invalid:,}")
        write(f"Conflicting: {summary.conflicting:,}")
        for item in summary.fan_out:
            write(
                f"Fan-out: {item.click_rows:,} click-only rows → {item.conversions:,} "
                f"conversions of offer {item.offer} ({item.offer_id})"
            )
        for error in summary.errors[:20]:
            write(f"  row {error.row}: {error.message}")
        if job.error_report:
            write(f"Rejected rows report: {job.error_report.path}")
