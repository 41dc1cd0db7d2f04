"""``Authorization: ApiToken <key>`` (GoKart's form) or ``Authorization: Bearer <key>``.

A missing, unknown, revoked or expired key is a 401 problem, a key over its rate limit a 429
(``api.calls`` finds both once per request); a scope or permission the key lacks a 403
(``key_required``).
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security.base import AuthBase

from api.calls import api_call
from api.keys import key_allows
from api.models import ApiKey
from api.problems import ApiProblem


class ApiKeyAuth(AuthBase):
    """The API's one security scheme (an HTTP bearer in the OpenAPI document; ``ApiToken``
    accepted as a synonym)."""

    openapi_type = "http"
    openapi_scheme = "bearer"
    openapi_description = "An API key: `Authorization: ApiToken <key>` or `Bearer <key>`."

    def __call__(self, request: HttpRequest) -> ApiKey | None:
        call = api_call(request)
        if call.problem is not None:
            raise call.problem
        return call.api_key


def key_required(request: HttpRequest, *, scope: str, permission: str) -> ApiKey:
    """The request's key, when it has ``scope`` and its user ``permission``; else a 403."""
    api_key: ApiKey = request.auth  # type: ignore[attr-defined]
    if scope not in api_key.scopes:
        raise ApiProblem(
            403, "missing_scope", "Scope missing", f"This needs a key with the scope {scope}."
        )
    if not key_allows(api_key, scope=scope, permission=permission):
        raise ApiProblem(
            403,
            "missing_permission",
            "Permission missing",
            f"The key's user lacks the permission {permission}.",
        )
    return api_key
