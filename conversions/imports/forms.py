"""Forms of the bulk status import: the upload (import-export's form) and the confirmation."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from import_export.formats.base_formats import Format
from import_export.forms import ImportForm


class UploadFormat(Format):
    """A file type the import page accepts (import-export's format hook).

    The import pipeline reads the file in a worker, streaming; these formats never build a
    tablib ``Dataset`` (tablib's XLS format would also need xlwt just to be listed).
    """

    extension = ""

    def get_title(self) -> str:
        return self.extension

    def get_extension(self) -> str:
        return self.extension

    def can_import(self) -> bool:
        return True

    def can_export(self) -> bool:
        return False


class CSVUpload(UploadFormat):
    extension = "csv"


class XLSUpload(UploadFormat):
    extension = "xls"


class XLSXUpload(UploadFormat):
    extension = "xlsx"


UPLOAD_FORMATS: list[type[UploadFormat]] = [CSVUpload, XLSUpload, XLSXUpload]


class ConversionImportForm(ImportForm):
    """import-export's import form, the file only: it goes to an ImportJob, unparsed.

    No format select: the format is the file name's, checked against the file's first bytes
    (``conversions.imports.reading.sniffing``), so a choice could only disagree with the file.
    A ``format`` still posted (scripts written for the old form) is ignored. The page explains
    the columns once; the field says only what it takes.
    """

    def __init__(self, formats, resources, **kwargs) -> None:  # noqa: ANN001 -- import-export's
        super().__init__(formats, resources, **kwargs)
        del self.fields["format"]
        field = self.fields["import_file"]
        field.label = "Status file"
        field.widget.attrs = {"accept": ".csv,.xls,.xlsx"}
        limit = filesizeformat(settings.IMPORT_MAX_UPLOAD_BYTES)
        field.help_text = f".csv, .xls or .xlsx, up to {limit}."

    @property
    def media(self) -> forms.Media:
        # import-export's adds jQuery and its script that guesses the format select.
        return forms.Media()
