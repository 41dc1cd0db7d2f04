"""Secrets at rest: what must be read back is encrypted, what is only compared is hashed.

- Encrypted (``EncryptedTextField``): partners' signing secrets, current and replaced, and the
  authenticator apps' TOTP keys. Fernet (AES-128-CBC with HMAC-SHA256) under
  ``FIELD_ENCRYPTION_KEYS``: a list of Fernet keys, the first encrypts, every one decrypts
  (``MultiFernet``), so a key is rotated by putting a new one first, running
  ``manage.py field_encryption_rotate`` (``field_encryption_rotate``) and then dropping the
  old one. With none set, DEBUG settings (development, tests) derive one from ``SECRET_KEY``;
  in production nothing is encrypted or decrypted without one, and ``check --deploy`` fails
  (``gokart.E001``).
- Hashed (``TokenDigestField``): offers' postback tokens, current and replaced. They are 192-bit
  random strings, so a plain SHA-256 is as good as any slower hash; the stored value keeps the
  token's first and last two characters in front (``ab…yz$<sha256 hex>``), which is what the
  pages show of a token, so a token is never readable again once shown. An exact look-up
  hashes the value looked for; a postback compares digests, in constant time
  (``conversions.tracking``).
- Recovery codes are hashed too, with HMAC-SHA256 under ``SECRET_KEY`` (``RecoveryCodeField``):
  40 random bits would fall to a plain hash of a stolen table. So a new ``SECRET_KEY`` voids
  the codes not used yet (each user gets new ones from their authenticator app's page).

A value read from a hashed column is a ``StoredDigest``: written back as it is, never hashed
twice. Encrypted columns refuse every look-up but ``isnull`` (ciphertexts differ each time, and
a ``startswith`` on a secret must not be answerable).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models, transaction
from django.utils.crypto import salted_hmac

KEYS_MISSING = (
    "FIELD_ENCRYPTION_KEYS is not set: partners' signing secrets and authenticator keys are "
    "encrypted with it. Set it to one or more Fernet keys, comma-separated, the newest first "
    '(make one with: python -c "from cryptography.fernet import Fernet; '
    'print(Fernet.generate_key().decode())").'
)


def field_encryption_keys() -> list[str]:
    """``FIELD_ENCRYPTION_KEYS`` (under DEBUG, settings derive one from SECRET_KEY when none is
    set); ``ImproperlyConfigured`` when there is none."""
    keys = [key for key in settings.FIELD_ENCRYPTION_KEYS if key]
    if not keys:
        raise ImproperlyConfigured(KEYS_MISSING)
    return keys


@lru_cache(maxsize=8)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _current_fernet() -> MultiFernet:
    return _fernet(tuple(field_encryption_keys()))


def value_encrypt(value: str) -> str:
    """``value`` encrypted under the first key (a Fernet token, ``gAAAAA…``)."""
    return _current_fernet().encrypt(value.encode()).decode()


def value_decrypt(ciphertext: str) -> str:
    """The value ``value_encrypt`` made, under any of the keys; ``ImproperlyConfigured`` when
    none of them opens it (a key dropped too soon, or a value written in clear)."""
    try:
        return _current_fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted with any key of FIELD_ENCRYPTION_KEYS: was "
            "the key it was written with removed before `manage.py field_encryption_rotate`?"
        ) from None


def value_reencrypt(ciphertext: str) -> str:
    """The same value encrypted under the first key (what a key rotation does to each row)."""
    try:
        return _current_fernet().rotate(ciphertext.encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured("A stored secret cannot be decrypted with any key.") from None


def is_encrypted(value: str) -> bool:
    """Whether ``value`` looks like a Fernet token (what the data migrations skip)."""
    return value.startswith("gAAAAA")


class StoredDigest(str):
    """A value read from a hashed column: compared and written back as it is."""

    @property
    def hint(self) -> str:
        """What the digest keeps of its value for people to tell it apart (``ab…yz``)."""
        return self.partition("$")[0]


def token_hint(token: str) -> str:
    """``ab…yz``: enough to tell two tokens apart, useless to an attacker."""
    return f"{token[:2]}…{token[-2:]}" if len(token) >= 8 else "…"


def token_digest(value: str) -> StoredDigest:
    """What a hashed-token column stores for the token ``value``: its hint, ``$``, its
    SHA-256 (a stored digest is returned as it is)."""
    if isinstance(value, StoredDigest):
        return value
    return StoredDigest(f"{token_hint(value)}${hashlib.sha256(value.encode()).hexdigest()}")


def recovery_code_digest(value: str) -> StoredDigest:
    """What the recovery codes' column stores for the code ``value``: HMAC-SHA256 under
    SECRET_KEY (a stored digest is returned as it is)."""
    if isinstance(value, StoredDigest):
        return value
    return StoredDigest(salted_hmac("gokart.recovery-code", value, algorithm="sha256").hexdigest())


class _LookupsRefused:
    """Only ``isnull``: an encrypted column cannot be searched, nor be made to answer guesses."""

    def get_lookup(self, lookup_name: str) -> Any:
        return super().get_lookup(lookup_name) if lookup_name == "isnull" else None  # type: ignore[misc]

    def get_transform(self, lookup_name: str) -> Any:
        return None


class EncryptedTextField(_LookupsRefused, models.TextField):
    """A text column holding its value encrypted (``value_encrypt``); clear in Python."""

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        return value_encrypt(value) if value else value

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        return value_decrypt(value) if value else value


class EncryptedCharField(_LookupsRefused, models.CharField):
    """``EncryptedTextField`` for a third-party ``CharField`` whose column we widen ourselves
    (TOTP keys, ``access.apps``): ``max_length`` still checks the clear value, and migrations
    see the plain ``CharField`` the third party declares."""

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        return value_encrypt(value) if value else value

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        return value_decrypt(value) if value else value

    def deconstruct(self) -> Any:
        name, _, args, kwargs = super().deconstruct()
        return name, "django.db.models.CharField", args, kwargs


class TokenDigestField(models.CharField):
    """A column holding ``token_digest`` of its value: the clear token lives only in memory,
    on the instance that generated it. Exact look-ups hash the value looked for."""

    digest = staticmethod(token_digest)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        return self.digest(value) if value else value

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        return StoredDigest(value) if value is not None else value

    def get_lookup(self, lookup_name: str) -> Any:
        return super().get_lookup(lookup_name) if lookup_name in {"exact", "in", "isnull"} else None

    def get_transform(self, lookup_name: str) -> Any:
        return None


class RecoveryCodeField(TokenDigestField):
    """``TokenDigestField`` with ``recovery_code_digest``, for django-otp's ``StaticToken``
    (``access.apps``); migrations see the plain ``CharField`` django-otp declares."""

    digest = staticmethod(recovery_code_digest)

    def deconstruct(self) -> Any:
        name, _, args, kwargs = super().deconstruct()
        return name, "django.db.models.CharField", args, kwargs


def encrypted_columns() -> list[tuple[str, str, str]]:
    """Every encrypted column: (table, primary key column, column)."""
    return [
        (model._meta.db_table, str(model._meta.pk.column), str(field.column))
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedTextField | EncryptedCharField)
    ]


def field_encryption_rotate() -> int:
    """Encrypt every encrypted value again under the first key (rows locked, one transaction);
    returns how many were rewritten. After it, the keys after the first can be dropped."""
    quote = connection.ops.quote_name
    rewritten = 0
    with transaction.atomic(), connection.cursor() as cursor:
        for table, pk, column in encrypted_columns():
            table, pk, column = quote(table), quote(pk), quote(column)
            cursor.execute(
                f"SELECT {pk}, {column} FROM {table} "  # noqa: S608 -- names from the models
                f"WHERE {column} IS NOT NULL AND {column} <> '' FOR UPDATE"
            )
            for row_id, value in cursor.fetchall():
                cursor.execute(
                    f"UPDATE {table} SET {column} = %s WHERE {pk} = %s",  # noqa: S608
                    [value_reencrypt(value), row_id],
                )
                rewritten += 1
    return rewritten


@checks.register(checks.Tags.security, deploy=True)
def field_encryption_keys_check(**kwargs: Any) -> list[checks.CheckMessage]:
    """``check --deploy``: the encryption keys are set, each a Fernet key."""
    keys = [key for key in settings.FIELD_ENCRYPTION_KEYS if key]
    if not keys:
        return [checks.Error(KEYS_MISSING, id="gokart.E001")]
    errors: list[checks.CheckMessage] = []
    for number, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except ValueError:
            errors.append(
                checks.Error(
                    f"FIELD_ENCRYPTION_KEYS: key {number} is not a Fernet key (32 bytes in "
                    "URL-safe base64).",
                    id="gokart.E002",
                )
            )
    return errors
