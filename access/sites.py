"""The admin site: Django's, with the two-step sign-in and the second-factor check.

It is ``admin.site`` itself (``GoKartAdminConfig.default_site``), so every ``@admin.register``
in the project lands on it, and so do the admins of django-otp, django-axes and
``django.contrib.auth``. Each one's list filters only through its own filters
(``gokart.admin_lookups``).
"""

from collections.abc import Iterable
from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, path

from access.policy import second_factor_required
from gokart.admin_lookups import lookups_guarded


class GoKartAdminSite(admin.AdminSite):
    def register(
        self,
        model_or_iterable: type[Model] | Iterable[type[Model]],
        admin_class: type[admin.ModelAdmin] | None = None,
        **options: Any,
    ) -> None:
        """As Django's, with a list that refuses lookups its filters do not make: a column the
        list does not show (a token, a secret, a key) cannot be searched through its URL."""
        super().register(
            model_or_iterable, lookups_guarded(admin_class or admin.ModelAdmin), **options
        )

    def has_permission(self, request: HttpRequest) -> bool:
        """Active staff; when the settings require it of them, verified by a second factor."""
        if not super().has_permission(request):
            return False
        user = request.user
        return not second_factor_required(user) or _is_verified(user)

    def login(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        from access.sign_in import sign_in

        return sign_in(request, extra_context)

    def get_urls(self) -> list[URLResolver | URLPattern]:
        from access import sign_in, two_factor

        own = [
            # Before sign-in is complete: these read the pending sign-in themselves.
            path("login/second-factor/", sign_in.second_factor, name="second_factor"),
            path("two-factor/setup/", two_factor.authenticator_setup, name="authenticator_setup"),
            # Signed in.
            path("two-factor/", self.admin_view(two_factor.two_factor), name="two_factor"),
            path(
                "two-factor/recovery-codes/",
                self.admin_view(two_factor.recovery_codes_new),
                name="recovery_codes",
            ),
        ]
        return own + super().get_urls()


def _is_verified(user) -> bool:
    # django-otp's middleware gives request.user is_verified(); a user signed in during this
    # request (the sign-in's last step) has only the otp_device that method reads.
    is_verified = getattr(user, "is_verified", None)
    return is_verified() if is_verified else getattr(user, "otp_device", None) is not None
