"""Request bodies are limited before they are read, per route (``api.urls``):

- most routes: ``API_MAX_BODY_BYTES`` (64 KiB);
- a change set's JSON body (``change_set_create``): ``api.change_sets.MAX_BODY_BYTES`` (room for
  100,000 changes). It is read once here, so that the JSON parser and ``Idempotency-Key``'s
  fingerprint (which read ``request.body``) are not held to Django's in-memory cap for form
  data (``DATA_UPLOAD_MAX_MEMORY_SIZE``, 2 MB), which is meant for forms;
- a change set's file (``change_set_upload``): the admin import's own limit
  (``IMPORT_MAX_UPLOAD_BYTES`` and room for the multipart envelope), with its message; the file
  itself is streamed to disk by the import's upload handlers (``routes.change_sets``). With an
  ``Idempotency-Key`` the body is read into memory first, as the key's fingerprint covers it.
"""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO

from django.conf import settings
from django.http import HttpRequest

from api.change_sets import MAX_BODY_BYTES as CHANGE_SET_MAX_BODY_BYTES
from api.idempotency import HEADER as IDEMPOTENCY_HEADER
from conversions.imports.uploads import (
    MULTIPART_OVERHEAD_BYTES,
    upload_limit_bytes,
    upload_too_large_message,
)

# Routes (their URL names) with a limit of their own, and whether it is a file upload.
_LARGE_BODIES: dict[str, tuple[Callable[[], int], bool]] = {
    "change_set_create": (lambda: CHANGE_SET_MAX_BODY_BYTES, False),
    "change_set_upload": (lambda: upload_limit_bytes() + MULTIPART_OVERHEAD_BYTES, True),
    "conversion_upload": (lambda: upload_limit_bytes() + MULTIPART_OVERHEAD_BYTES, True),
}


def body_limit(route: str | None) -> int:
    """The most bytes a body of ``route`` may have."""
    limit, _upload = _LARGE_BODIES.get(route or "", (lambda: settings.API_MAX_BODY_BYTES, False))
    return limit()


def body_too_large_message(route: str | None, length: int) -> str:
    if route in _LARGE_BODIES and _LARGE_BODIES[route][1]:
        return upload_too_large_message(length)
    return f"Request bodies are limited to {body_limit(route)} bytes."


def body_read(request: HttpRequest, route: str | None) -> None:
    """Read a large body of ``route`` once, within its own limit (already checked against its
    Content-Length), where Django's form-data cap would refuse it; other bodies are left for
    Django to read."""
    if route not in _LARGE_BODIES or hasattr(request, "_body"):
        return
    upload = _LARGE_BODIES[route][1]
    if upload and IDEMPOTENCY_HEADER not in request.headers:
        return  # streamed to disk by the import's upload handlers
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if length <= settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
        return
    # What HttpRequest.body does, without the form-data cap (the route's limit applies).
    request._body = request.read(length)  # type: ignore[attr-defined]
    request._stream = BytesIO(request._body)  # type: ignore[attr-defined]
