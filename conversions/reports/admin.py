"""The conversion report's export on Conversion Management (django-import-export's Export).

``ConversionExportMixin`` (mixed into ``ConversionAdmin``) streams the list as currently
filtered and searched as CSV or XLSX (``conversions.reports.export``). Its page says first which
filters apply, about how many rows will come out and the file's name, derived from the filters
(``conversions.admin.export_scope``). Exporting needs view permission on conversions.
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG, ChangeList
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import reverse
from import_export.admin import ExportMixin
from import_export.formats.base_formats import CSV, XLSX
from import_export.forms import ExportForm

from conversions.admin.export_scope import (
    report_filename,
    report_filters_described,
    report_rows_count,
)
from conversions.reports import export
from conversions.reports.resource import ConversionReportResource


class ConversionExportMixin(ExportMixin):
    resource_classes = [ConversionReportResource]
    # The report's columns are fixed (the import reads its first four back): no field picker.
    export_form_class = ExportForm
    export_template_name = "admin/conversions/conversion/export.html"

    def has_export_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def get_export_formats(self) -> list[type]:
        return [CSV, XLSX]

    def get_export_resource_classes(self, request: HttpRequest) -> list[type]:
        return [ConversionReportResource]

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

    def export_action(self, request: HttpRequest) -> HttpResponseBase:
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
