"""API keys: each acts as its user, narrowed to its scopes (``api.keys``)."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone


class Scope(models.TextChoices):
    CONVERSIONS_READ = "conversions:read", "Read conversions"
    CONVERSIONS_WRITE = "conversions:write", "Change conversion statuses"
    CHANGE_SETS_WRITE = "change-sets:write", "Create bulk change sets"
    CHANGE_SETS_APPROVE = "change-sets:approve", "Approve bulk change sets"


class ApiKey(models.Model):
    """One API key. The key itself is shown once, when created; only its prefix (to tell keys
    apart) and the SHA-256 of the whole key are kept."""

    name = models.CharField(max_length=100, help_text="What the key is for: it names its changes.")
    # The user the key acts as: its permissions are this user's, narrowed to the scopes.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_keys"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    scopes = ArrayField(models.CharField(max_length=32, choices=Scope.choices), default=list)
    prefix = models.CharField(max_length=16, unique=True)
    secret_sha256 = models.CharField(max_length=64)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_from = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_usable(self, now: datetime | None = None) -> bool:
        """Neither revoked nor expired."""
        moment = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > moment)


class IdempotentRequest(models.Model):
    """A POST or PATCH sent with an ``Idempotency-Key``: what it asked (a digest of its method,
    path, query and body) and, once answered, the answer to give again (``api.idempotency``)."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_sha256 = models.CharField(max_length=64)
    # Null while the first request is being answered.
    status_code = models.PositiveSmallIntegerField(null=True)
    content_type = models.CharField(max_length=100, blank=True)
    body = models.BinaryField(default=bytes)
    created_at = models.DateTimeField()

    class Meta:
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(fields=["api_key", "key"], name="idempotent_request_key"),
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotent_request_created")]

    def __str__(self) -> str:
        return f"{self.api_key_id}: {self.key}"


class ApiRequest(models.Model):
    """One answered request made with a key, for the key's admin page (``api.request_log``):
    written once, after the answer was decided; each key's latest ``API_REQUEST_LOG_PER_KEY``
    are kept."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="requests")
    answered_at = models.DateTimeField()
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500, help_text="With its query, cut at 500 characters.")
    status_code = models.PositiveSmallIntegerField()
    problem_code = models.CharField(max_length=64, blank=True)
    duration_ms = models.FloatField()
    client_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        default_permissions = ()
        verbose_name = "API request"
        indexes = [models.Index(fields=["api_key", "id"], name="api_request_key_id")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.status_code}"
