"""The bulk status import on Conversion Management (django-import-export's Import).

``ConversionImportMixin`` (mixed into ``ConversionAdmin``) keeps import-export's Import button,
URLs, form and template, and replaces what cannot carry 100 MB through its documented hooks:

- ``import_action``: the upload goes through a size-limited upload handler straight to storage
  and becomes an ``ImportJob``; nothing is parsed in the web request. The job's page (the
  change-set engine's, ``conversions.change_sets.admin``) shows the check's progress, the
  preview, the confirmation and the outcome. ``process_import`` (import-export's confirm step)
  is not used: jobs are confirmed on their page.
- The import page offers an empty template of the status file (CSV and XLSX,
  ``conversions.imports.template_file``), has no format select (the format is the file name's,
  checked against its content) and says its instructions once.

Importing needs ``conversions.change_conversion_status``, on every import URL (the templates'
too). The export beside it is ``conversions.reports.admin``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST
from import_export.admin import ImportMixin

from conversions.change_sets import views
from conversions.change_sets.admin import CHANGE_SET_PERMISSION_NEEDED, has_change_set_permission
from conversions.imports import services, template_file, uploads
from conversions.imports.forms import UPLOAD_FORMATS, ConversionImportForm
from conversions.imports.resources import ConversionStatusImportResource
from conversions.imports.template_file import UPLOAD_TEMPLATE_COLUMNS
from conversions.models import ImportJob

_UPLOAD_TEMPLATE = "admin/conversions/importjob/upload_conversions.html"


class ConversionImportMixin(ImportMixin):
    import_form_class = ConversionImportForm
    import_template_name = "admin/conversions/importjob/import.html"

    def has_import_permission(self, request: HttpRequest) -> bool:
        return has_change_set_permission(request)

    def get_import_formats(self) -> list[type]:
        return list(UPLOAD_FORMATS)

    def get_import_resource_classes(self, request: HttpRequest) -> list[type]:
        return [ConversionStatusImportResource]

    def has_upload_permission(self, request: HttpRequest) -> bool:
        """Recording conversions that tracking missed: a change set's permission, and “Can
        upload conversions that tracking missed”."""
        return has_change_set_permission(request) and request.user.has_perm(
            "conversions.upload_conversions"
        )

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "import/template.<slug:file_format>",
                self.admin_site.admin_view(self.import_template_download),
                name="conversions_conversion_import_template",
            ),
            path(
                "upload/",
                self.admin_site.admin_view(self.upload_action),
                name="conversions_conversion_upload",
            ),
            *super().get_urls(),
        ]

    # -- import: upload to an ImportJob -------------------------------------------------------
    def import_template_download(self, request: HttpRequest, file_format: str) -> HttpResponse:
        """The empty status file (its header row only), as CSV or XLSX."""
        if not self.has_import_permission(request):
            raise PermissionDenied(CHANGE_SET_PERMISSION_NEEDED)
        if file_format not in template_file.TEMPLATE_FORMATS:
            raise Http404("The template is a .csv or an .xlsx file.")
        return template_file.import_template_response(file_format=file_format)

    # CSRF is checked inside, once the size-limited upload handler is installed: the CSRF
    # middleware would otherwise read the whole body (through the default handlers) first.
    @method_decorator(csrf_exempt)
    def import_action(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        if not self.has_import_permission(request):
            raise PermissionDenied
        return self._upload_received(request, ImportJob.Kind.FILE)

    @method_decorator(csrf_exempt)
    def upload_action(self, request: HttpRequest) -> HttpResponse:
        """Conversions that tracking missed, from a file: the same upload, limits and job
        page as the status import, staged by ``upload_staging``."""
        if not self.has_upload_permission(request):
            raise PermissionDenied(
                "Uploading conversions needs “Can upload conversions that tracking missed” "
                "and the bulk change permission."
            )
        return self._upload_received(request, ImportJob.Kind.UPLOAD)

    def _upload_received(self, request: HttpRequest, kind: str) -> HttpResponse:
        if request.method == "POST":
            refusal = uploads.upload_size_refusal(request)
            if refusal:
                return self._import_refused(request, refusal, kind)
            request.upload_handlers = uploads.import_upload_handlers(request)
        return csrf_protect(self._import_upload)(request, kind)

    def _import_upload(self, request: HttpRequest, kind: str) -> HttpResponse:
        form = self.create_import_form(request)
        if kind == ImportJob.Kind.UPLOAD:
            form.fields["import_file"].label = "Conversion file"
        if request.method == "POST":
            # Reading the form ran the upload handlers: one of them may have stopped it.
            refusal = uploads.upload_size_refusal(request)
            if refusal:
                return self._import_refused(request, refusal, kind)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["import_file"]
            try:
                job = services.import_job_create(
                    user=request.user, upload=upload, original_name=upload.name, kind=kind
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
        return self._import_page(request, form, kind)

    def _import_refused(self, request: HttpRequest, refusal: str, kind: str) -> HttpResponse:
        # The body stays unread (no CSRF check either: nothing is done); the form shows again,
        # unbound, under the reason.
        form = self.get_import_form_class(request)(
            self.get_import_formats(),
            self.get_import_resource_classes(request),
            initial=self.get_import_form_initial(request),
        )
        return self._import_page(request, form, kind, status=413, refusal=refusal)

    def _import_page(
        self,
        request: HttpRequest,
        form: ConversionImportForm,
        kind: str,
        status: int = 200,
        refusal: str = "",
    ) -> TemplateResponse:
        uploading = kind == ImportJob.Kind.UPLOAD
        context = self.get_import_context_data()
        context.update(self.admin_site.each_context(request))
        context.update(
            {
                "title": "Upload conversions" if uploading else "Import conversion statuses",
                "may_upload": self.has_upload_permission(request),
                "form": form,
                "opts": self.model._meta,
                "media": self.media + form.media,
                "fields_list": [
                    (
                        resource.get_display_name(),  # type: ignore[attr-defined]
                        [f.column_name for f in resource().get_user_visible_fields()],
                    )
                    for resource in self.get_import_resource_classes(request)
                ],
                "import_error_display": self.import_error_display,
                "max_upload_size": filesizeformat(settings.IMPORT_MAX_UPLOAD_BYTES),
                "recent_jobs": ImportJob.objects.filter(kind=kind).select_related("user")[:5],
                "upload_columns": UPLOAD_TEMPLATE_COLUMNS,
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
        template = _UPLOAD_TEMPLATE if uploading else self.import_template_name
        return TemplateResponse(request, [template], context, status=status)

    @method_decorator(require_POST)
    def process_import(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        if not self.has_import_permission(request):
            raise PermissionDenied
        self.message_user(
            request, "Imports are confirmed on their import job's page.", messages.WARNING
        )
        return HttpResponseRedirect(reverse("admin:conversions_importjob_changelist"))
