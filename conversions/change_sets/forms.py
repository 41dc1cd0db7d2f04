"""The confirmation form of a job's page, whatever its source."""

from __future__ import annotations

from typing import Any

from django import forms


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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
