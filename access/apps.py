from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


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
