"""``Idempotency-Key`` on every POST and PATCH: a client that did not see the answer (a timeout,
a dropped connection) sends the same request again with the same key and gets the first answer
again, and nothing is done twice.

- The first request with a key (per API key) records the key and a SHA-256 of its method, path,
  query and body before it runs, then its answer. Later requests with that key:
  the same request → the recorded answer (header ``Idempotent-Replayed: true``); another
  request → 422 ``idempotency_key_reused``; while the first is still running → 409
  ``idempotency_request_in_progress``.
- A 5xx answer is not kept (the key is freed, so a retry runs again); 4xx answers are.
- Keys are kept ``API_IDEMPOTENCY_HOURS`` (default 24): an older one is forgotten when its key
  is sent again, and ``idempotent_requests_expired_delete`` drops the others.
- A key longer than 255 characters is a 400 ``invalid_idempotency_key``.
- A request whose API key is not accepted runs as usual (its 401 or 429 is not kept).
- Honoured inside django-ninja, once the route is known to take the method (``honoured``, a
  decorator of every operation, ``api.main``): a POST to a PATCH route is a 405, whatever key it
  carries. The answers given here without running the route (a replay, a 409, a 422) carry the
  key's RateLimit fields and are logged under it as any other (``api.calls.answered`` wraps
  this).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from api.calls import api_call
from api.models import ApiKey, IdempotentRequest
from api.problems import problem_response

HEADER = "Idempotency-Key"
KEY_MAX_LENGTH = 255
_METHODS = ("POST", "PATCH")


def _fingerprint(request: HttpRequest) -> str:
    digest = hashlib.sha256()
    for part in (request.method or "", request.get_full_path()):
        digest.update(part.encode() + b"\0")
    digest.update(request.body)
    return digest.hexdigest()


def _api_key(request: HttpRequest) -> ApiKey | None:
    call = api_call(request)
    return call.api_key if call.problem is None else None


def _expiry() -> timedelta:
    return timedelta(hours=settings.API_IDEMPOTENCY_HOURS)


def _claimed(api_key: ApiKey, key: str, fingerprint: str) -> IdempotentRequest | None:
    """Record the key for this request (None), or return the earlier request that holds it."""
    now = timezone.now()
    IdempotentRequest.objects.filter(
        api_key=api_key, key=key, created_at__lt=now - _expiry()
    ).delete()
    try:
        with transaction.atomic():
            IdempotentRequest.objects.create(
                api_key=api_key, key=key, request_sha256=fingerprint, created_at=now
            )
    except IntegrityError:
        return IdempotentRequest.objects.filter(api_key=api_key, key=key).first()
    return None


def idempotent(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The URL-level hook ``api.urls`` applies: nothing to do there any more, since the key is
    honoured per operation (``honoured``), where the method is known to be the route's."""
    return view


def honoured(run: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Decorate a django-ninja operation's ``run``: a POST or PATCH honours
    ``Idempotency-Key`` (module docstring)."""

    @wraps(run)
    def run_honoured(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        key = request.headers.get(HEADER)
        if request.method not in _METHODS or key is None:
            return run(request, *args, **kwargs)
        if not key or len(key) > KEY_MAX_LENGTH:
            return problem_response(
                400,
                "invalid_idempotency_key",
                "Invalid Idempotency-Key",
                f"An Idempotency-Key has 1 to {KEY_MAX_LENGTH} characters.",
            )
        api_key = _api_key(request)
        if api_key is None:
            return run(request, *args, **kwargs)
        fingerprint = _fingerprint(request)
        earlier = _claimed(api_key, key, fingerprint)
        if earlier is not None:
            return _answer_again(earlier, fingerprint)
        try:
            response = run(request, *args, **kwargs)
        except BaseException:
            IdempotentRequest.objects.filter(api_key=api_key, key=key).delete()
            raise
        kept = IdempotentRequest.objects.filter(api_key=api_key, key=key)
        if response.status_code >= 500 or getattr(response, "streaming", False):
            kept.delete()
        else:
            kept.update(
                status_code=response.status_code,
                content_type=response.get("Content-Type", ""),
                body=response.content,
            )
        return response

    return run_honoured


def _answer_again(earlier: IdempotentRequest, fingerprint: str) -> HttpResponse:
    if earlier.request_sha256 != fingerprint:
        return problem_response(
            422,
            "idempotency_key_reused",
            "Idempotency-Key reused",
            "This Idempotency-Key was sent with another request; use a new key.",
        )
    if earlier.status_code is None:
        return problem_response(
            409,
            "idempotency_request_in_progress",
            "Request in progress",
            "The first request with this Idempotency-Key is still being answered; retry later.",
        )
    response = HttpResponse(
        bytes(earlier.body), status=earlier.status_code, content_type=earlier.content_type
    )
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent_requests_expired_delete() -> int:
    """Drop the keys older than ``API_IDEMPOTENCY_HOURS``; returns how many."""
    deleted, _ = IdempotentRequest.objects.filter(
        created_at__lt=timezone.now() - _expiry()
    ).delete()
    return deleted
