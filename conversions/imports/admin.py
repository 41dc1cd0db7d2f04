"""Bulk status import and report export on Conversion Management (django-import-export).

``ConversionImportExportMixin`` (mixed into ``ConversionAdmin`` first) keeps import-export's
Import and Export buttons, URLs, forms and templates, and replaces what cannot carry 100 MB
through its documented hooks:

- ``import_action``: the upload goes through a size-limited upload handler straight to storage
  and becomes an ``ImportJob``; nothing is parsed in the web request. The job page (the
  ``ImportJob`` admin below) shows validation progress, the preview, the confirmation and the
  outcome. ``process_import`` (import-export's confirm step) is not used: jobs are confirmed
  on their page.
- ``export_action``: the conversion report of the list as filtered, streamed as CSV or XLSX
  (``conversions.reports.export``). Its page says first which filters apply, about how many
  rows will come out and the file's name, derived from the filters
  (``conversions.admin.export_scope``).
- The import page offers an empty template of the status file (CSV and XLSX,
  ``conversions.imports.template_file``), has no format select (the format is the file name's,
  checked against its content) and says its instructions once.

Importing needs ``conversions.change_conversion_status``, on every import URL (the templates'
too); exporting needs view permission on conversions.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG, ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST
from import_export.admin import ImportExportMixin
from import_export.formats.base_formats import CSV, XLSX
from import_export.forms import ExportForm

from conversions.admin.export_scope import (
    report_filename,
    report_filters_described,
    report_rows_count,
)
from conversions.imports import services, template_file, uploads, views
from conversions.imports.forms import UPLOAD_FORMATS, ConversionImportForm
from conversions.imports.resources import ConversionStatusImportResource
from conversions.imports.summary import ImportSummary
from conversions.models import ImportJob
from conversions.reports import export
from conversions.reports.resource import ConversionReportResource
from gokart.admin_base import ReadOnlyAdminMixin

IMPORT_PERMISSION = "conversions.change_conversion_status"
IMPORT_PERMISSION_NEEDED = (
    "Importing conversion statuses needs the permission “Can change the status of "
    "conversions” (conversions.change_conversion_status)."
)


def has_import_permission(request: HttpRequest) -> bool:
    return request.user.has_perm(IMPORT_PERMISSION)


class ConversionImportExportMixin(ImportExportMixin):
    resource_classes = [ConversionReportResource]
    import_form_class = ConversionImportForm
    # The report's columns are fixed (the import reads its first four back): no field picker.
    export_form_class = ExportForm
    import_template_name = "admin/conversions/importjob/import.html"
    export_template_name = "admin/conversions/conversion/export.html"
    import_export_change_list_template = "admin/conversions/importjob/conversion_change_list.html"

    # -- permissions ------------------------------------------------------------------------
    def has_import_permission(self, request: HttpRequest) -> bool:
        return has_import_permission(request)

    def has_export_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    # -- formats and resources ----------------------------------------------------------------
    def get_import_formats(self) -> list[type]:
        return list(UPLOAD_FORMATS)

    def get_export_formats(self) -> list[type]:
        return [CSV, XLSX]

    def get_import_resource_classes(self, request: HttpRequest) -> list[type]:
        return [ConversionStatusImportResource]

    def get_export_resource_classes(self, request: HttpRequest) -> list[type]:
        return [ConversionReportResource]

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "import/template.<slug:file_format>",
                self.admin_site.admin_view(self.import_template_download),
                name="conversions_conversion_import_template",
            ),
            *super().get_urls(),
        ]

    # -- import: upload to an ImportJob -------------------------------------------------------
    def import_template_download(self, request: HttpRequest, file_format: str) -> HttpResponse:
        """The empty status file (its header row only), as CSV or XLSX."""
        if not self.has_import_permission(request):
            raise PermissionDenied(IMPORT_PERMISSION_NEEDED)
        if file_format not in template_file.TEMPLATE_FORMATS:
            raise Http404("The template is a .csv or an .xlsx file.")
        return template_file.import_template_response(file_format=file_format)

    # CSRF is checked inside, once the size-limited upload handler is installed: the CSRF
    # middleware would otherwise read the whole body (through the default handlers) first.
    @method_decorator(csrf_exempt)
    def import_action(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        if not self.has_import_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            refusal = uploads.upload_size_refusal(request)
            if refusal:
                return self._import_refused(request, refusal)
            request.upload_handlers = uploads.import_upload_handlers(request)
        return csrf_protect(self._import_upload)(request)

    def _import_upload(self, request: HttpRequest) -> HttpResponse:
        form = self.create_import_form(request)
        if request.method == "POST":
            # Reading the form ran the upload handlers: one of them may have stopped it.
            refusal = uploads.upload_size_refusal(request)
            if refusal:
                return self._import_refused(request, refusal)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["import_file"]
            try:
                job = services.import_job_create(
                    user=request.user, upload=upload, original_name=upload.name
                )
            except ValidationError as error:
                form.add_error("import_file", error.messages)
            else:
                self.message_user(
                    request,
                    f"“{job.original_name}” uploaded ({filesizeformat(job.size_bytes)}). "
                    "It is being checked; the preview appears on this page when it is ready.",
                )
                return HttpResponseRedirect(views.import_job_url(job))
        return self._import_page(request, form)

    def _import_refused(self, request: HttpRequest, refusal: str) -> HttpResponse:
        # The body stays unread (no CSRF check either: nothing is done); the form shows again,
        # unbound, under the reason.
        form = self.get_import_form_class(request)(
            self.get_import_formats(),
            self.get_import_resource_classes(request),
            initial=self.get_import_form_initial(request),
        )
        return self._import_page(request, form, status=413, refusal=refusal)

    def _import_page(
        self,
        request: HttpRequest,
        form: ConversionImportForm,
        status: int = 200,
        refusal: str = "",
    ) -> TemplateResponse:
        context = self.get_import_context_data()
        context.update(self.admin_site.each_context(request))
        context.update(
            {
                "title": "Import conversion statuses",
                "form": form,
                "opts": self.model._meta,
                "media": self.media + form.media,
                "fields_list": [
                    (
                        resource.get_display_name(),
                        [f.column_name for f in resource().get_user_visible_fields()],
                    )
                    for resource in self.get_import_resource_classes(request)
                ],
                "import_error_display": self.import_error_display,
                "max_upload_size": filesizeformat(settings.IMPORT_MAX_UPLOAD_BYTES),
                "recent_jobs": ImportJob.objects.select_related("user")[:5],
                "upload_refusal": refusal,
                "template_columns": template_file.TEMPLATE_COLUMNS,
                "template_urls": [
                    (
                        extension.upper(),
                        reverse("admin:conversions_conversion_import_template", args=[extension]),
                    )
                    for extension in template_file.TEMPLATE_FORMATS
                ],
            }
        )
        request.current_app = self.admin_site.name
        return TemplateResponse(request, [self.import_template_name], context, status=status)

    @method_decorator(require_POST)
    def process_import(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        if not self.has_import_permission(request):
            raise PermissionDenied
        self.message_user(
            request, "Imports are confirmed on their import job's page.", messages.WARNING
        )
        return HttpResponseRedirect(reverse("admin:conversions_importjob_changelist"))

    # -- export: the filtered report, streamed ------------------------------------------------
    def export_changelist(self, request: HttpRequest) -> ChangeList:
        """The list as this request filters and searches it (its queryset, filters and search),
        without its page, counts or totals. Raises ``IncorrectLookupParameters``."""

        class ExportChangeList(self.get_changelist(request)):  # type: ignore[misc]
            def get_filters_params(self, params: Any = None) -> dict[str, Any]:
                # Django adds it to change-view URLs; it filters nothing.
                result = super().get_filters_params(params)
                result.pop("_changelist_filters", None)
                return result

            def get_results(self, request: HttpRequest) -> None:
                pass  # no page and no count: the export streams every row

        return ExportChangeList(
            request,
            self.model,
            self.get_list_display(request),
            self.get_list_display_links(request, self.get_list_display(request)),
            self.get_list_filter(request),
            self.date_hierarchy,
            self.get_search_fields(request),
            self.get_list_select_related(request),
            self.list_per_page,
            self.list_max_show_all,
            self.list_editable,
            self,
            self.get_sortable_by(request),
            self.search_help_text,
        )

    def get_export_queryset(self, request: HttpRequest) -> QuerySet:
        return self.export_changelist(request).queryset

    def export_action(self, request: HttpRequest) -> HttpResponse:
        if not self.has_export_permission(request):
            raise PermissionDenied
        try:
            changelist = self.export_changelist(request)
        except IncorrectLookupParameters:
            # As the list itself answers filters it cannot apply.
            changelist_url = reverse("admin:conversions_conversion_changelist")
            return HttpResponseRedirect(f"{changelist_url}?{ERROR_FLAG}=1")
        queryset: QuerySet = changelist.queryset
        formats = self.get_export_formats()
        form = self.get_export_form_class()(
            formats,
            self.get_export_resource_classes(request),
            data=request.POST or None,
            initial={"format": "0"},  # CSV: it holds any number of rows
        )
        if form.is_valid():
            file_format = formats[int(form.cleaned_data["format"])]()
            extension = file_format.get_extension()
            if extension == "xlsx" and export.xlsx_too_many_rows(queryset):
                form.add_error(
                    "format",
                    f"This report has more than {export.XLSX_MAX_ROWS:,} conversions, more than "
                    "one XLSX sheet holds. Filter the list further, or export CSV.",
                )
            else:
                return export.conversion_report_response(
                    queryset=queryset,
                    file_format=extension,
                    filename=self.get_export_filename(request, queryset, file_format),
                )
        rows = report_rows_count(request=request, queryset=queryset)
        context = self.init_request_context_data(request, form)
        context.update(
            {
                "title": "Export the conversion report",
                "export_filters": report_filters_described(changelist),
                "export_rows": rows.words(),
                "export_too_many_for_xlsx": rows.rows > export.XLSX_MAX_ROWS,
                "export_filenames": [
                    report_filename(params=request.GET, extension=file_format().get_extension())
                    for file_format in formats
                ],
                "changelist_url": reverse("admin:conversions_conversion_changelist")
                + changelist.get_query_string(),
            }
        )
        request.current_app = self.admin_site.name
        return TemplateResponse(request, [self.export_template_name], context)

    def get_export_filename(self, request: HttpRequest, queryset: QuerySet, file_format) -> str:  # noqa: ANN001
        return report_filename(params=request.GET, extension=file_format.get_extension())


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The job list and each job's page (read-only; actions are the page's buttons): imports,
    selected-rows actions and reverts."""

    list_display = [
        "id",
        "file_name",
        "kind",
        "user",
        "uploaded",
        "confirmed",
        "size",
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

    # -- permissions: everything here is part of the import ---------------------------------
    def has_module_permission(self, request: HttpRequest) -> bool:
        return has_import_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: ImportJob | None = None) -> bool:
        return has_import_permission(request)

    # -- list columns -----------------------------------------------------------------------
    @admin.display(description="size", ordering="size_bytes")
    def size(self, job: ImportJob) -> str:
        return filesizeformat(job.size_bytes)

    @admin.display(description="state", ordering="state")
    def state_badge(self, job: ImportJob) -> str:
        return format_html(
            '<span class="gk-job-state gk-job-state-{}">{}</span>',
            job.state,
            job.get_state_display(),
        )

    @admin.display(description="file", ordering="original_name")
    def file_name(self, job: ImportJob) -> str:
        return job.original_name

    @admin.display(description="uploaded", ordering="created_at")
    def uploaded(self, job: ImportJob) -> str:
        return f"{job.created_at:%Y-%m-%d %H:%M}"

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
            def wrapper(request: HttpRequest, object_id: int) -> HttpResponse:
                if not has_import_permission(request):
                    raise PermissionDenied
                if post_only and request.method != "POST":
                    return HttpResponse(status=405, headers={"Allow": "POST"})
                job = get_object_or_404(
                    ImportJob.objects.select_related("user", "confirmed_by", "reverts"),
                    pk=object_id,
                )
                return view(request, import_job=job)

            return self.admin_site.admin_view(wrapper)

        return [
            path(
                "<int:object_id>/status/",
                job_view(views.import_job_status),
                name="conversions_importjob_status",
            ),
            path(
                "<int:object_id>/confirm/",
                job_view(views.import_job_confirm, post_only=True),
                name="conversions_importjob_confirm",
            ),
            path(
                "<int:object_id>/retry/",
                job_view(views.import_job_retry, post_only=True),
                name="conversions_importjob_retry",
            ),
            path(
                "<int:object_id>/report/",
                job_view(views.import_job_report_download),
                name="conversions_importjob_report",
            ),
            path(
                "<int:object_id>/changes/",
                job_view(views.import_job_changes_download),
                name="conversions_importjob_changes",
            ),
            path(
                "<int:object_id>/revert/",
                job_view(views.import_job_revert, post_only=True),
                name="conversions_importjob_revert",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if not has_import_permission(request):
            raise PermissionDenied
        if not str(object_id).isdigit():
            raise Http404("No such import job.")
        job = get_object_or_404(
            ImportJob.objects.select_related("user", "confirmed_by", "reverts"), pk=object_id
        )
        admin_context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": job,
            "media": self.media,
        }
        return views.import_job_page(request, import_job=job, admin_context=admin_context)
