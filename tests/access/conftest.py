import time

import pytest
from django.test import Client
from django_otp.oath import hotp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

PASSWORD = "correct horse battery staple"
LOGIN_URL = "/admin/login/"
SECOND_FACTOR_URL = "/admin/login/second-factor/"
SETUP_URL = "/admin/two-factor/setup/"


def totp_code(device: TOTPDevice) -> str:
    """A code the device accepts now, newer than any it accepted before (each works once)."""
    device.refresh_from_db()
    now = int((time.time() - device.t0) // device.step) + device.drift
    step = max(now, device.last_t + 1)
    assert step <= now + device.tolerance, "no unused code left in this time window"
    return f"{hotp(device.bin_key, step, device.digits):0{device.digits}d}"


def sign_in(client: Client, username: str, password: str = PASSWORD, **extra):
    return client.post(LOGIN_URL, {"username": username, "password": password}, **extra)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # Sign-ins here are many; the production hasher's cost is not what they test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def staff_member(django_user_model):
    """A staff member who may view conversions (and not change their statuses)."""
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("riley", password=PASSWORD, is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_conversion"))
    return user


@pytest.fixture
def authenticator(staff_member):
    return TOTPDevice.objects.create(user=staff_member, name="Authenticator app", confirmed=True)


@pytest.fixture
def recovery_codes(staff_member):
    device = StaticDevice.objects.create(user=staff_member, name="Recovery codes")
    codes = ["alpha234", "bravo567"]
    for code in codes:
        StaticToken.objects.create(device=device, token=code)
    return codes


@pytest.fixture
def second_factor_required(settings):
    settings.ADMIN_REQUIRE_2FA = True
