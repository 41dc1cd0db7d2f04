from axes import apps as axes_apps
from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django_otp.plugins.otp_static import apps as static_apps
from django_otp.plugins.otp_totp import apps as totp_apps


class AccessConfig(AppConfig):
    default = True
    name = "access"
    verbose_name = "Admin access"

    def ready(self) -> None:
        from access import receivers  # noqa: F401 -- connects the sign-in audit


class GoKartAdminConfig(admin_apps.AdminConfig):
    """Django's admin, with ``admin.site`` built from our site class (Django's documented way)."""

    default = False
    default_site = "access.sites.GoKartAdminSite"


# The third-party apps of admin access, named so that the admin's menu lists them together.
class LockoutsConfig(axes_apps.AppConfig):
    default = False
    verbose_name = "Admin access: lockouts"


class AuthenticatorAppsConfig(totp_apps.DefaultConfig):
    default = False
    verbose_name = "Admin access: authenticator apps"

    def ready(self) -> None:
        super().ready()
        # django-otp keeps TOTP keys in clear and has no hook to do otherwise: its key field
        # becomes an encrypting one (clear in Python, a Fernet token in the column that
        # migration access.0003 widened). Migrations still see django-otp's CharField.
        from django_otp.plugins.otp_totp.models import TOTPDevice

        from gokart.encryption import EncryptedCharField

        TOTPDevice._meta.get_field("key").__class__ = EncryptedCharField


class RecoveryCodesConfig(static_apps.DefaultConfig):
    default = False
    verbose_name = "Admin access: recovery codes"

    def ready(self) -> None:
        super().ready()
        # Recovery codes are only compared: the token column holds their HMAC, and django-otp's
        # own look-up (``token_set.filter(token=code)``) hashes the code typed. Migration
        # access.0003 widened the column and hashed the codes there were.
        from django_otp.plugins.otp_static.models import StaticToken

        from gokart.encryption import RecoveryCodeField

        StaticToken._meta.get_field("token").__class__ = RecoveryCodeField
