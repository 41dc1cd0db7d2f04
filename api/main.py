"""The Management API's one ``NinjaAPI``: its routers, security, and the problem+json answer
for every error (``api.problems``).

Framework: django-ninja, Pydantic models (README "Management API" says why).
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.schema import OpenAPISchema

from api.auth import ApiKeyAuth
from api.calls import answered
from api.idempotency import honoured
from api.problems import COMMON_PROBLEMS, PROBLEM_CONTENT_TYPE, ApiProblem, problem_response
from api.routes import change_sets, conversions, gokart

logger = logging.getLogger(__name__)


_IDEMPOTENCY_KEY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Send the request again with the same key to get the first answer again, "
    "nothing done twice (kept 24 hours; another request with the key: 422).",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}


class ManagementApi(NinjaAPI):
    """django-ninja's API, whose OpenAPI document says what the errors really are (every 4xx
    and 5xx answer is ``application/problem+json``; the answers every operation may give, a
    401, a 429, a 500…, are listed on each: ``api.problems.COMMON_PROBLEMS``) and what every
    POST and PATCH accepts (``Idempotency-Key``, ``api.idempotency``)."""

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        for operations in schema.get("paths", {}).values():
            for method, operation in operations.items():
                if method in ("post", "patch"):
                    operation.setdefault("parameters", []).append(_IDEMPOTENCY_KEY_PARAMETER)
                # django-ninja keys its own answers by int, ours by str: one kind only, or the
                # JSON document holds "400" twice and Swagger UI refuses to render it.
                responses = {str(s): r for s, r in operation.get("responses", {}).items()}
                operation["responses"] = responses
                for common in COMMON_PROBLEMS:
                    if common.applies_to(method) and str(common.status) not in responses:
                        responses[str(common.status)] = common.openapi_response()
                for status, response in responses.items():
                    content = response.get("content", {})
                    if int(status) >= 400 and "application/json" in content:
                        content[PROBLEM_CONTENT_TYPE] = content.pop("application/json")
        return schema


api = ManagementApi(
    title="GoKart back office Management API",
    version="1",
    description="Conversions and their statuses for the systems around the back office. "
    "Authenticate with `Authorization: ApiToken <key>` (or `Bearer <key>`); keys are "
    "created in the admin. Errors are `application/problem+json` with a `code`.",
    auth=ApiKeyAuth(),
    openapi_url="/openapi.json",
    docs_url=None,  # served from our own static files: api.docs
    urls_namespace="api-v1",
)
# Idempotency-Key honoured once the route takes the method (api.idempotency); then, around
# it, every answer carries the key's RateLimit fields and is logged under it (api.calls).
api.add_decorator(honoured, mode="view")
api.add_decorator(answered, mode="view")
api.add_router("/sdk-conversion-system", gokart.router)
api.add_router("", conversions.router)
api.add_router("", change_sets.router)


@api.exception_handler(ApiProblem)
def _problem(request: HttpRequest, exc: ApiProblem) -> HttpResponse:
    return exc.response()


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors: list[dict[str, Any]] = [
        {
            "loc": list(error.get("loc", ())),
            "msg": str(error.get("msg", "")),
            "type": error.get("type"),
        }
        for error in exc.errors
    ]
    where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:5])
    return problem_response(422, "invalid_request", "Invalid request", where, errors=errors)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return problem_response(401, "missing_key", "API key required")


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = "malformed_body" if exc.status_code == 400 else f"http_{exc.status_code}"
    return problem_response(exc.status_code, code, str(exc), str(exc))


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problem_response(404, "not_found", "Not found")


@api.exception_handler(RecursionError)
def _too_nested(request: HttpRequest, exc: RecursionError) -> HttpResponse:
    return problem_response(
        400, "body_too_nested", "Body nested too deeply", "Send JSON nested a few levels only."
    )


@api.exception_handler(Exception)
def _server_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.error("API error on %s %s", request.method, request.path, exc_info=exc)
    return problem_response(
        500,
        "server_error",
        "Server error",
        "Something went wrong on our side; nothing to fix in the request. Retry later.",
    )
