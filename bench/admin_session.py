"""A benchmark's admin: a superuser signed in with its second factor, as production requires
(``ADMIN_REQUIRE_2FA`` is on when ``DEBUG=0``), so the timed pages run the real checks."""

from __future__ import annotations

from typing import Any


def admin_client_verified() -> Any:
    """Django's test client, signed in as the superuser ``bench`` and verified by a confirmed
    TOTP device (the session django-otp's sign-in leaves)."""
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_staff": True, "is_superuser": True}
    )
    device, _ = TOTPDevice.objects.get_or_create(
        user=user, name="bench", defaults={"confirmed": True}
    )
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client
