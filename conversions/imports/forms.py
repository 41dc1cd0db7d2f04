"""Forms of the bulk status import: the upload (import-export's form) and the confirmation."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from import_export.forms import ImportForm


class ConversionImportForm(ImportForm):
    """import-export's import form (file, format); the file goes to an ImportJob, unparsed."""

    def __init__(self, formats, resources, **kwargs) -> None:  # noqa: ANN001 -- import-export's
        super().__init__(formats, resources, **kwargs)
        limit = filesizeformat(settings.IMPORT_MAX_UPLOAD_BYTES)
        self.fields["import_file"].help_text = (
            f"CSV, XLS or XLSX, up to {limit}. Columns gk_click_id and/or EventId, Status "
            "(Pending, Success or Rejected) and optionally Reason; other columns are ignored, "
            "so an exported report with its Status column edited can be uploaded as it is."
        )
        self.fields["format"].help_text = "Guessed from the file name; checked against the content."


class ImportJobConfirmForm(forms.Form):
    """Confirming a validated import job starts the apply in the background."""

    send_no_callbacks = forms.BooleanField(
        label="Send no partner callbacks for this import",
        required=False,
        help_text=(
            "Partners are not told about these changes (recorded on the job and in every audit "
            "row). Use it to correct statuses partners should not act on."
        ),
    )
