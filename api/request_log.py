"""Each API key's request log: what its requests were answered, for the key's admin page.

- One row per answered request made with one of our keys (``api.calls``): when, method, path
  with its query, status, the problem's ``code`` for an error, how long from authentication to
  the answer, and the client's address. A revoked or expired key's refused requests are logged
  under it; a request with no key or an unknown one is not (there is no key to show it on).
- Cheap to write: one INSERT, after the answer is decided, outside any transaction of the route.
  A failed write is logged and the answer goes out unchanged.
- Bounded: ``api_requests_trim`` (Celery beat, every 5 minutes) keeps each key's latest
  ``API_REQUEST_LOG_PER_KEY`` (default 1,000), one index range per key.
"""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils import timezone

from access.addresses import client_address
from api.models import ApiKey, ApiRequest
from api.problems import PROBLEM_CONTENT_TYPE

logger = logging.getLogger(__name__)

PATH_MAX = 500


def _problem_code(response: HttpResponseBase) -> str:
    if response.streaming or response.get("Content-Type") != PROBLEM_CONTENT_TYPE:
        return ""
    try:
        code = json.loads(response.content).get("code")  # type: ignore[attr-defined]
    except (ValueError, AttributeError):
        return ""
    return str(code)[:64] if code else ""


def api_request_record(
    *, api_key: ApiKey, request: HttpRequest, response: HttpResponseBase, duration_ms: float
) -> None:
    """Log one answered request under ``api_key`` (one INSERT; never raises)."""
    try:
        ApiRequest.objects.create(
            api_key=api_key,
            answered_at=timezone.now(),
            method=(request.method or "")[:10],
            path=request.get_full_path()[:PATH_MAX],
            status_code=response.status_code,
            problem_code=_problem_code(response),
            duration_ms=round(duration_ms, 2),
            client_address=client_address(request),
        )
    except DatabaseError:
        logger.warning("API request log: could not record %s", request.path, exc_info=True)


def api_requests_recent(*, api_key: ApiKey, limit: int = 50) -> list[ApiRequest]:
    """The key's latest ``limit`` requests, newest first."""
    return list(ApiRequest.objects.filter(api_key=api_key).order_by("-id")[:limit])


def api_requests_trim() -> int:
    """Keep each key's latest ``API_REQUEST_LOG_PER_KEY`` requests; returns how many were
    dropped."""
    kept = max(1, settings.API_REQUEST_LOG_PER_KEY)
    dropped = 0
    for key_id in ApiKey.objects.values_list("pk", flat=True).iterator():
        oldest_kept = (
            ApiRequest.objects.filter(api_key_id=key_id)
            .order_by("-id")
            .values_list("id", flat=True)[kept - 1 : kept]
            .first()
        )
        if oldest_kept is not None:
            deleted, _ = ApiRequest.objects.filter(api_key_id=key_id, id__lt=oldest_kept).delete()
            dropped += deleted
    return dropped
