"""Errors as ``application/problem+json`` (RFC 9457), for every error under ``/api/v1/``.

Each problem has ``type`` (``urn:gokart:problem:<code>``), ``title``, ``status``, ``detail`` and
``code``: the word a program branches on (``invalid_request``, ``unknown_key``,
``missing_scope``…), listed in the README. Validation problems add ``errors``: each with
``loc`` (where) and ``msg`` (what to fix). No answer carries a stack trace.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
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


def conversion_not_found(detail: str) -> ApiProblem:
    """The 404 of every route that names a conversion that is not ours."""
    return ApiProblem(404, "conversion_not_found", "Conversion not found", detail)


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


@dataclass(frozen=True)
class CommonProblem:
    """An error any operation (or any POST and PATCH: ``methods``) may answer, whatever its
    route: listed on each operation of the OpenAPI document (``api.main``)."""

    status: int
    description: str
    methods: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()

    def applies_to(self, method: str) -> bool:
        return not self.methods or method.lower() in self.methods

    def openapi_response(self) -> dict[str, Any]:
        response: dict[str, Any] = {
            "description": self.description,
            "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": PROBLEM_SCHEMA_REF}}},
        }
        if self.headers:
            response["headers"] = {
                name: {"required": True, "schema": {"type": "integer", "minimum": 1}}
                for name in self.headers
            }
        return response


PROBLEM_SCHEMA_REF = "#/components/schemas/Problem"
COMMON_PROBLEMS = (
    CommonProblem(
        400,
        "The request cannot be read: a malformed or too deeply nested body, a bad "
        "Content-Length or Idempotency-Key, a cursor we did not give.",
    ),
    CommonProblem(401, "No API key, or one that is unknown, revoked or expired."),
    CommonProblem(403, "The key lacks the scope, or its user the permission."),
    CommonProblem(
        409, "The first request with this Idempotency-Key is still running.", ("post", "patch")
    ),
    CommonProblem(413, "The body is over API_MAX_BODY_BYTES (refused before it is read)."),
    CommonProblem(422, "A parameter or the body is invalid (`errors` says where and why)."),
    CommonProblem(
        429,
        "The key is over its rate limit: retry after Retry-After seconds.",
        headers=("Retry-After",),
    ),
    CommonProblem(500, "Something went wrong on our side; nothing to fix in the request."),
)
