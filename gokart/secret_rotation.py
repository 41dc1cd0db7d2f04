"""Rotating a secret without ever dropping one its holder may still use: one rule for offers'
postback tokens (``conversions.postback_tokens``) and partners' signing secrets
(``callbacks.rotation``).

A rotation gives the owner (an offer, a partner) a new current secret and keeps the one it
replaces in a ``ReplacedSecret`` row with its own ``expires_at`` (now + that kind's grace).
Every replaced secret stays in use, alongside the current one, until its own expiry, so a second
rotation inside the grace never shortens the first one's. A rotation names the secret it
replaces (its fingerprint, from the confirmation page): a repeated POST of the same page finds
it already replaced and changes nothing. Expired rows are dropped at the next rotation.

The rotation moves the owner's stored value as it is: whether the column holds a hash (postback
tokens) or ciphertext (signing secrets) is the field's business (``gokart.encryption``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import models, transaction
from django.utils import timezone


class ReplacedSecret(models.Model):
    """A secret its owner had before a rotation, in use until its own ``expires_at``.

    Concrete kinds add the owner's foreign key and the secret's own column."""

    replaced_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"until {self.expires_at:%Y-%m-%d %H:%M}"


@dataclass(frozen=True)
class RotatedSecret:
    """Where one kind of secret lives: its owner's field, its replaced rows, its grace."""

    owner_model: type[models.Model]
    # The owner's field holding the current secret.
    owner_field: str
    replaced_model: type[ReplacedSecret]
    # The replaced row's foreign key to its owner, and its column holding the secret.
    replaced_owner_field: str
    replaced_value_field: str
    generate: Callable[[], str]
    grace: Callable[[], timedelta]


@dataclass(frozen=True)
class SecretInUse:
    """A secret in use now, as stored: ``expires_at`` None for the current one."""

    secret: str
    expires_at: datetime | None


def secret_fingerprint(secret: str) -> str:
    """A short hash naming a stored secret in a form (it reveals nothing of the secret)."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def secrets_in_use(*, kind: RotatedSecret, owner: Any) -> list[SecretInUse]:
    """The owner's current secret, then every replaced one still in use, latest expiry first."""
    replaced = kind.replaced_model._default_manager.filter(
        **{kind.replaced_owner_field: owner, "expires_at__gt": timezone.now()}
    ).order_by("-expires_at")
    return [SecretInUse(getattr(owner, kind.owner_field), None)] + [
        SecretInUse(getattr(row, kind.replaced_value_field), row.expires_at) for row in replaced
    ]


def secret_rotate(
    *, kind: RotatedSecret, owner: Any, grace: timedelta | None = None, replacing: str | None = None
) -> str | None:
    """Give ``owner`` a new secret and return it (show it once: it is never readable again in
    full from the pages, and for a hashed kind not from the database either).

    The replaced secret stays in use until ``grace`` (the kind's own unless given) has passed;
    so do the ones earlier rotations replaced, each until its own expiry. ``replacing`` (a
    fingerprint) is the secret the admin confirmed replacing: when it is no longer current (a
    repeated POST), nothing changes and None is returned. ``owner`` holds the new secret after.
    """
    grace = kind.grace() if grace is None else grace
    new_secret = kind.generate()
    now = timezone.now()
    with transaction.atomic():
        locked = (
            kind.owner_model._default_manager.select_for_update()
            .only(kind.owner_field)
            .get(pk=owner.pk)
        )
        current = getattr(locked, kind.owner_field)
        if replacing is not None and replacing != secret_fingerprint(current):
            return None
        replaced = kind.replaced_model._default_manager
        replaced.filter(**{kind.replaced_owner_field: locked, "expires_at__lte": now}).delete()
        replaced.create(
            **{kind.replaced_owner_field: locked, kind.replaced_value_field: current},
            replaced_at=now,
            expires_at=now + grace,
        )
        setattr(locked, kind.owner_field, new_secret)
        locked.save(update_fields=[kind.owner_field])
    setattr(owner, kind.owner_field, new_secret)
    return new_secret
