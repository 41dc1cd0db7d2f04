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


class RecoveryCodesConfig(static_apps.DefaultConfig):
    default = False
    verbose_name = "Admin access: recovery codes"
