"""API keys: created, checked on each request, revoked.

A key reads ``gk_<8 hex>_<43 url-safe characters>`` (256 random bits after the prefix). Only its
prefix (shown in the admin to tell keys apart; looked up by its unique index) and the SHA-256 of
the whole key are stored: a key of that entropy needs no slow hash, and the digests are compared
in constant time. The key itself exists in memory once, to be shown to its creator.

A key acts as its user: what it may do is what the user may do (their permissions, checked
at each request, so a user's lost permission or deactivation takes effect at once) narrowed
to the key's scopes (``key_allows``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from access.policy import second_factor_required, second_factor_set_up
from api.models import ApiKey, Scope

KEY_PREFIX = "gk_"
# "gk_" and 8 hex characters: what the admin shows and the look-up uses.
PREFIX_LENGTH = len(KEY_PREFIX) + 8


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def api_key_create(
    *,
    name: str,
    user: Any,
    created_by: Any,
    scopes: Iterable[str],
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Create a key for ``user`` asked for by ``created_by``; returns the key row and the key
    itself (to be shown once, never stored). A user creates keys for themselves; a superuser
    also for another user. Someone who must sign in with a second factor
    (``access.policy.second_factor_required``) must have set one up first.

    Raises ``ValidationError`` with a message for the person when a rule is not met."""
    if created_by.pk != user.pk and not created_by.is_superuser:
        raise ValidationError("You can create API keys for yourself only.")
    if second_factor_required(created_by) and not second_factor_set_up(created_by):
        raise ValidationError(
            "Set up two-step sign-in before creating an API key: your account must use it."
        )
    chosen = sorted(set(scopes))
    unknown = [scope for scope in chosen if scope not in Scope.values]
    if unknown or not chosen:
        raise ValidationError(f"Choose scopes among {', '.join(Scope.values)}.")
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError("The expiry must be in the future.")
    name = name.strip()
    if not name:
        raise ValidationError("Give the key a name: it names the changes made with it.")
    while True:
        prefix = KEY_PREFIX + secrets.token_hex(4)
        if not ApiKey.objects.filter(prefix=prefix).exists():
            break
    token = f"{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        name=name,
        user=user,
        created_by=created_by,
        scopes=chosen,
        prefix=prefix,
        secret_sha256=_digest(token),
        expires_at=expires_at,
    )
    return api_key, token


def api_key_revoke(*, api_key: ApiKey) -> None:
    """Revoke the key at once (the next request with it is refused). Revoking twice keeps the
    first time."""
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    api_key.refresh_from_db(fields=["revoked_at"])


@dataclass(frozen=True)
class KeyRefused(Exception):
    """Why a presented key is not accepted: ``code`` one of ``unknown_key``, ``revoked_key``,
    ``expired_key``, ``inactive_user``; ``api_key`` the key when it is ours (its secret matched)
    but not usable, so that its refused requests show on its page."""

    code: str
    detail: str
    api_key: ApiKey | None = None


def api_key_authenticate(*, token: str, address: str | None) -> ApiKey:
    """The usable key ``token`` is, its last use recorded; raises ``KeyRefused`` otherwise."""
    token = token.strip()
    prefix = token[:PREFIX_LENGTH]
    api_key = (
        ApiKey.objects.select_related("user").filter(prefix=prefix).first()
        if token.startswith(KEY_PREFIX) and len(token) > PREFIX_LENGTH
        else None
    )
    # Compared even when nothing was found, so that the answer takes the same time.
    stored = api_key.secret_sha256 if api_key else "0" * 64
    if not hmac.compare_digest(stored, _digest(token)) or api_key is None:
        raise KeyRefused("unknown_key", "The API key is not known.")
    now = timezone.now()
    if api_key.revoked_at is not None:
        raise KeyRefused("revoked_key", "The API key was revoked.", api_key)
    if api_key.expires_at is not None and api_key.expires_at <= now:
        raise KeyRefused("expired_key", "The API key has expired.", api_key)
    if not api_key.user.is_active:
        raise KeyRefused("inactive_user", "The API key's user is deactivated.", api_key)
    _last_use_record(api_key, now=now, address=address)
    return api_key


def _last_use_record(api_key: ApiKey, *, now: datetime, address: str | None) -> None:
    # One write per key per API_KEY_LAST_USE_SECONDS (and on a new address), not per request.
    every = timedelta(seconds=settings.API_KEY_LAST_USE_SECONDS)
    last = api_key.last_used_at
    if last is not None and now - last < every and api_key.last_used_from == address:
        return
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now, last_used_from=address)
    api_key.last_used_at, api_key.last_used_from = now, address


def key_allows(api_key: ApiKey, *, scope: str, permission: str) -> bool:
    """Whether the key has ``scope`` and its user ``permission`` (``app.codename``)."""
    return scope in api_key.scopes and api_key.user.has_perm(permission)
