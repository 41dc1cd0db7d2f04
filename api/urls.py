"""``/api/v1/``: the API's routes, its OpenAPI document and docs page, and a problem+json
answer for everything else under it (unknown paths 404, wrong methods 405, bodies over
``API_MAX_BODY_BYTES``, or a change set's own limit, ``api.bodies``, 413 before they are
read); POST and PATCH honour ``Idempotency-Key``
(``api.idempotency``)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.urls import URLPattern, path, re_path
from django.views.decorators.csrf import csrf_exempt

from api.bodies import body_limit, body_read, body_too_large_message
from api.docs import api_docs
from api.idempotency import idempotent
from api.main import api
from api.problems import problem_response


def _body_limited(
    view: Callable[..., HttpResponse], route: str | None = None
) -> Callable[..., HttpResponse]:
    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return problem_response(400, "malformed_body", "Bad Content-Length")
        if length > body_limit(route):
            return problem_response(
                413, "body_too_large", "Body too large", body_too_large_message(route, length)
            )
        body_read(request, route)
        response = view(request, *args, **kwargs)
        if isinstance(response, HttpResponseNotAllowed):
            allowed = response["Allow"]
            response = problem_response(
                405, "method_not_allowed", "Method not allowed", f"Use {allowed}."
            )
            response["Allow"] = allowed
        return response

    return guarded


@csrf_exempt
def _unknown(request: HttpRequest, rest: str = "") -> HttpResponse:
    return problem_response(404, "not_found", "Not found", f"No API route {request.path}.")


def _routes() -> list[Any]:
    patterns, _app, _namespace = api.urls
    for pattern in patterns:
        if isinstance(pattern, URLPattern):
            # The root is only a name that django-ninja reverses; nothing is served there.
            view = _unknown if pattern.name == "api-root" else pattern.callback
            pattern.callback = _body_limited(idempotent(view), pattern.name)
    return list(patterns)


app_name = "ninja"  # the app name django-ninja reverses its own routes under
urlpatterns = [
    path("docs", _body_limited(api_docs), name="docs"),
    *_routes(),
    re_path(r"^(?P<rest>.*)$", _unknown),
]
