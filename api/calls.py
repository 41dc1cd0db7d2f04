"""One request under ``/api/v1/`` as its key sees it: authenticated and counted against the
key's rate limit once, when first asked (``api_call``), then answered (``api_call_answered``):
the RateLimit fields set and one row in the key's request log.

Two layers ask for the key: ``api.idempotency`` (before it runs or replays a POST or PATCH)
and the API's security scheme (``api.auth``) inside django-ninja; whichever comes first
authenticates and counts, the other reads what it found. Every answer of an operation passes
through ``answered`` (the outermost decorator of every operation, ``api.main``), the answers
``api.idempotency`` gives without running the route (a replay, a key in use or reused) too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from django.http import HttpRequest
from django.http.response import HttpResponseBase

from access.addresses import client_address
from api.keys import KeyRefused, api_key_authenticate
from api.models import ApiKey
from api.problems import ApiProblem
from api.rate_limits import KeyRate, api_key_rate_take, rate_limit_fields_set, rate_limited_problem
from api.request_log import api_request_record

Answer = TypeVar("Answer", bound=HttpResponseBase)
_SCHEMES = ("apitoken", "bearer")
_ATTRIBUTE = "_gokart_api_call"


@dataclass(frozen=True)
class ApiCall:
    """``api_key``: the key (also a revoked or expired one whose secret matched, so that its
    refused requests are logged under it); ``problem``: why the request is refused (401, 429),
    None when it may go on; ``rate``: the key's budget after it, when counted."""

    started: float
    api_key: ApiKey | None
    problem: ApiProblem | None
    rate: KeyRate | None


def api_call(request: HttpRequest) -> ApiCall:
    """This request's key and rate, found on the first call and kept on the request."""
    call: ApiCall | None = getattr(request, _ATTRIBUTE, None)
    if call is None:
        call = _call_open(request, started=time.perf_counter())
        setattr(request, _ATTRIBUTE, call)
    return call


def _call_open(request: HttpRequest, *, started: float) -> ApiCall:
    value = request.headers.get("Authorization", "")
    scheme, _, token = value.strip().partition(" ")
    if not value:
        problem = ApiProblem(
            401, "missing_key", "API key required", "Send Authorization: ApiToken <key>."
        )
        return ApiCall(started, None, problem, None)
    if scheme.lower() not in _SCHEMES or not token.strip():
        problem = ApiProblem(
            401,
            "malformed_authorization",
            "Malformed Authorization header",
            "Send Authorization: ApiToken <key> or Authorization: Bearer <key>.",
        )
        return ApiCall(started, None, problem, None)
    try:
        api_key = api_key_authenticate(token=token, address=client_address(request))
    except KeyRefused as refused:
        problem = ApiProblem(401, refused.code, "API key refused", refused.detail)
        return ApiCall(started, refused.api_key, problem, None)
    rate = api_key_rate_take(api_key=api_key)
    refusal = rate_limited_problem(rate) if rate is not None and rate.refused else None
    return ApiCall(started, api_key, refusal, rate)


def api_call_answered(request: HttpRequest, response: Answer) -> Answer:
    """Set the RateLimit fields on ``response`` and log it under the request's key (when the
    request named one of ours); returns ``response``."""
    call: ApiCall | None = getattr(request, _ATTRIBUTE, None)
    if call is None or call.api_key is None:
        return response
    if call.rate is not None:
        rate_limit_fields_set(response, call.rate)
    api_request_record(
        api_key=call.api_key,
        request=request,
        response=response,
        duration_ms=(time.perf_counter() - call.started) * 1000,
    )
    return response


def answered(run: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Decorate a django-ninja operation's ``run``: its answer goes through
    ``api_call_answered``."""

    @wraps(run)
    def run_answered(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        return api_call_answered(request, run(request, *args, **kwargs))

    return run_answered
