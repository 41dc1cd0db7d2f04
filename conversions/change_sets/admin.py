"""The jobs' list and each job's page, whatever the job's source (a file, Conversion
Management's buttons and selected rows, a revert): the change-set engine's pages, read-only
(actions are the page's buttons, ``views``). Everything here needs the permission to change
conversions' statuses, as every source does.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import filesizeformat
from django.urls import path
from django.utils.html import format_html

from conversions.change_sets import views
from conversions.change_sets.summary import ImportSummary
from conversions.models import ImportJob
from gokart.admin_base import ReadOnlyAdminMixin

CHANGE_SET_PERMISSION = "conversions.change_conversion_status"
CHANGE_SET_PERMISSION_NEEDED = (
    "Importing conversion statuses needs the permission “Can change the status of "
    "conversions” (conversions.change_conversion_status)."
)


def has_change_set_permission(request: HttpRequest) -> bool:
    return request.user.has_perm(CHANGE_SET_PERMISSION)


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The job list and each job's page (read-only; actions are the page's buttons): imports,
    selected-rows actions and reverts."""

    list_display = [
        "id",
        "file_name",
        "kind",
        "asked",
        "confirmed",
        "state_badge",
        "counts",
        "outcome",
    ]
    list_display_links = ["id", "file_name"]
    list_filter = ["state", "kind"]
    list_select_related = ["user", "confirmed_by"]
    search_fields = ["original_name"]
    list_per_page = 50
    show_full_result_count = False

    class Media:
        css = {"all": ["conversions/imports/import_job.css", "conversions/change_set.css"]}

    # -- permissions: every source needs the status permission ------------------------------
    def has_module_permission(self, request: HttpRequest) -> bool:
        return has_change_set_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: ImportJob | None = None) -> bool:
        return has_change_set_permission(request)

    # -- list columns -----------------------------------------------------------------------
    @admin.display(description="state", ordering="state")
    def state_badge(self, job: ImportJob) -> str:
        return format_html(
            '<span class="gk-job-state gk-job-state-{}">{}</span>',
            job.state,
            job.get_state_display(),
        )

    @admin.display(description="job", ordering="original_name")
    def file_name(self, job: ImportJob) -> str:
        """The file's name, with its size; a job without a file, what it does."""
        if job.file:
            return f"{job.original_name} ({filesizeformat(job.size_bytes)})"
        return job.original_name

    @admin.display(description="asked for", ordering="created_at")
    def asked(self, job: ImportJob) -> str:
        return f"{job.user or job.origin or 'a script'}, {job.created_at:%Y-%m-%d %H:%M}"

    @admin.display(description="confirmed")
    def confirmed(self, job: ImportJob) -> str:
        if job.confirmed_at is None:
            return "—"
        return f"{job.confirmed_by or 'a script'}, {job.confirmed_at:%Y-%m-%d %H:%M}"

    @admin.display(description="rows · to change · rejected")
    def counts(self, job: ImportJob) -> str:
        summary = ImportSummary.from_json(job.summary)
        if summary is None:
            return "—"
        return f"{summary.rows:,} · {summary.will_change_total:,} · {summary.rejected_rows:,}"

    @admin.display(description="outcome")
    def outcome(self, job: ImportJob) -> str:
        summary = ImportSummary.from_json(job.summary)
        if job.state == ImportJob.State.APPLIED and summary:
            text = f"{summary.applied_total:,} changed"
            if summary.changed_since_preview:
                text += f", {summary.changed_since_preview:,} changed since preview"
            if not job.send_callbacks:
                text += ", no callbacks"
            return text
        if job.state in {ImportJob.State.FAILED, ImportJob.State.INVALID}:
            return job.error_message[:120] or job.get_state_display()
        return ""

    # -- the job page and its endpoints ---------------------------------------------------------
    def get_urls(self):
        def job_view(view, *, post_only: bool = False):
            def wrapper(request: HttpRequest, object_id: int | str) -> HttpResponse:
                if not has_change_set_permission(request):
                    raise PermissionDenied
                if post_only and request.method != "POST":
                    return HttpResponse(status=405, headers={"Allow": "POST"})
                if not str(object_id).isdigit():
                    raise Http404("No such import job.")
                job = get_object_or_404(
                    ImportJob.objects.select_related("user", "confirmed_by", "reverts"),
                    pk=object_id,
                )
                return view(request, import_job=job)

            return self.admin_site.admin_view(wrapper)

        # The job's actions and downloads: <id>/<name>/, named conversions_importjob_<name>.
        endpoints = [
            ("status", views.import_job_status, False),
            ("confirm", views.import_job_confirm, True),
            ("retry", views.import_job_retry, True),
            ("report", views.import_job_report_download, False),
            ("changes", views.import_job_changes_download, False),
            ("revert", views.import_job_revert, True),
        ]
        return [
            # The job's page, ours in place of Django's change form (under the same name and
            # path, which it comes before: every link to a job's page stands).
            path(
                "<path:object_id>/change/",
                job_view(self.job_page),
                name="conversions_importjob_change",
            ),
            *(
                path(
                    f"<int:object_id>/{name}/",
                    job_view(view, post_only=post_only),
                    name=f"conversions_importjob_{name}",
                )
                for name, view, post_only in endpoints
            ),
            *super().get_urls(),
        ]

    def job_page(self, request: HttpRequest, *, import_job: ImportJob) -> HttpResponse:
        admin_context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": import_job,
            "media": self.media,
        }
        return views.import_job_page(request, import_job=import_job, admin_context=admin_context)
