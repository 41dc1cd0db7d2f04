"""Errors as ``application/problem+json`` (RFC 9457), for every error under ``/api/v1/``.

Each problem has ``type`` (``urn:gokart:problem:<code>``), ``title``, ``status``, ``detail`` and
``code``: the word a program branches on (``invalid_request``, ``unknown_key``,
``missing_scope``…), listed in the README. Validation problems add ``errors``: each with
``loc`` (where) and ``msg`` (what to fix). No answer carries a stack trace.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse

PROBLEM_CONTENT_TYPE = "application/problem+json"


class ApiProblem(Exception):
    """Raised by a route to answer a problem."""

    def __init__(self, status: int, code: str, title: str, detail: str = "", **extra: Any):
        super().__init__(detail or title)
        self.status, self.code, self.title, self.detail, self.extra = (
            status,
            code,
            title,
            detail,
            extra,
        )

    def response(self) -> HttpResponse:
        return problem_response(self.status, self.code, self.title, self.detail, **self.extra)


def problem_response(
    status: int, code: str, title: str, detail: str = "", **extra: Any
) -> HttpResponse:
    """A problem+json answer."""
    body = {
        "type": f"urn:gokart:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail or title,
        "code": code,
        **extra,
    }
    response = HttpResponse(
        json.dumps(body, default=str), status=status, content_type=PROBLEM_CONTENT_TYPE
    )
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="api", ApiToken realm="api"'
    return response
