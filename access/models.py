from django.conf import settings
from django.db import models
from django.utils import timezone


class SignInEventKind(models.TextChoices):
    SIGNED_IN = "signed_in", "Signed in"
    SIGN_IN_FAILED = "sign_in_failed", "Sign-in failed"
    PASSWORD_PASSED = "password_passed", "Password right, second factor next"
    SECOND_FACTOR_FAILED = "second_factor_failed", "Wrong second-factor code"
    LOCKED_OUT = "locked_out", "Locked out"
    UNLOCKED = "unlocked", "Unlocked by an admin"
    ENROLLED = "enrolled", "Authenticator app set up"
    RECOVERY_CODE_USED = "recovery_code_used", "Recovery code used"
    RECOVERY_CODES_REPLACED = "recovery_codes_replaced", "New recovery codes"
    SIGNED_OUT = "signed_out", "Signed out"
    TIMED_OUT = "timed_out", "Signed out for inactivity"


class SignInEvent(models.Model):
    """One entry of the sign-in audit: who, what, when and from which address.

    ``username`` is the account's name, or the name typed for a failed sign-in (which may
    belong to no account). No password, code or key is ever stored here.
    """

    kind = models.CharField(max_length=32, choices=SignInEventKind.choices)
    at = models.DateTimeField("time", default=timezone.now)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    username = models.CharField("user name", max_length=150, blank=True)
    address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    detail = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = "sign-in event"
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["-at"], name="signinevent_at"),
            models.Index(fields=["kind", "-at"], name="signinevent_kind_at"),
            models.Index(fields=["username", "-at"], name="signinevent_username_at"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.username or '?'} at {self.at:%Y-%m-%d %H:%M:%S}"
