"""Refusing an over-size status file before its body is read or stored.

The import view checks ``upload_size_refusal(request)`` first: a ``Content-Length`` over the
limit is refused without reading a byte of the body. Otherwise it installs
``import_upload_handlers(request)``: ``ImportSizeLimitHandler`` counts the bytes as they stream
in and stops the upload (resetting the connection rather than reading the rest) the moment
they pass ``settings.IMPORT_MAX_UPLOAD_BYTES``; the file itself always goes to a temporary file
on disk, never to memory. After the form has been read, ``upload_size_refusal(request)`` also
returns the handler's message when it stopped an upload (the file field is then missing).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import (
    FileUploadHandler,
    StopUpload,
    TemporaryFileUploadHandler,
)
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat

# Room for the multipart envelope and the form's other fields around the file itself.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
_REFUSAL_ATTRIBUTE = "import_upload_refusal"


def upload_limit_bytes() -> int:
    return int(settings.IMPORT_MAX_UPLOAD_BYTES)


def upload_too_large_message(size: int | None = None) -> str:
    limit = filesizeformat(upload_limit_bytes())
    what = f"The file is {filesizeformat(size)}" if size else "The file is too large"
    return (
        f"{what}; files of at most {limit} are accepted. Split the rows into several files "
        "(each with the header row) and upload them one by one."
    )


def upload_size_refusal(request: HttpRequest) -> str | None:
    """Why this upload request is refused for its size, or ``None``.

    Before the body is read: from ``Content-Length``. After: the handler's message, if it
    stopped the upload.
    """
    refusal = getattr(request, _REFUSAL_ATTRIBUTE, None)
    if refusal:
        return refusal
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if length > upload_limit_bytes() + MULTIPART_OVERHEAD_BYTES:
        return upload_too_large_message(length)
    return None


class ImportSizeLimitHandler(FileUploadHandler):
    """Stops an upload whose declared or streamed size passes the limit. Install first."""

    def handle_raw_input(
        self,
        input_data: Any,
        META: dict[str, Any],  # noqa: N803 -- Django's signature
        content_length: int,
        boundary: str,
        encoding: str | None = None,
    ) -> None:
        self.received = 0
        if content_length > upload_limit_bytes() + MULTIPART_OVERHEAD_BYTES:
            self._refuse(content_length)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received = start + len(raw_data)
        if self.received > upload_limit_bytes():
            self._refuse(None)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None

    def _refuse(self, size: int | None) -> None:
        if self.request is not None:
            setattr(self.request, _REFUSAL_ATTRIBUTE, upload_too_large_message(size))
        raise StopUpload(connection_reset=True)


def import_upload_handlers(request: HttpRequest) -> list[FileUploadHandler]:
    """The handlers for an import upload: the size limit, then straight to a temporary file."""
    return [ImportSizeLimitHandler(request), TemporaryFileUploadHandler(request)]
