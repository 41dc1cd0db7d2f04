"""A second factor someone else planted: what a password alone must not buy.

Two test clients play the attacker (who has the password only) and the real user. Each test
goes through the real sign-in pages.
"""

import time
from base64 import b32decode

import pytest
from django.test import Client
from django_otp.oath import hotp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from access.models import SignInEvent, SignInEventKind
from tests.access.conftest import (
    PASSWORD,
    SECOND_FACTOR_URL,
    SETUP_URL,
    sign_in,
    totp_code,
)

pytestmark = pytest.mark.django_db

OWN_PAGE = "/admin/two-factor/"
NEW_CODES_URL = "/admin/two-factor/recovery-codes/"


@pytest.fixture(autouse=True)
def no_otp_throttle(settings):
    # Several codes are tried in a row here; django-otp's growing wait is not what is tested.
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0


def shown_key(page) -> bytes:
    """The key the set-up page shows (grouped base32), as the bytes an app would keep."""
    return b32decode(page.context["key"].replace(" ", ""))


def code_from_key(key: bytes) -> str:
    """What an authenticator app holding ``key`` shows now."""
    return f"{hotp(key, int(time.time() // 30), 6):06d}"


def signed_in(client: Client) -> bool:
    """Whether the admin opens to ``client`` (its own two-factor page answers only then)."""
    return client.get(OWN_PAGE).status_code == 200


def test_the_attackers_set_up_is_not_the_one_the_user_is_shown(
    staff_member, second_factor_required
):
    attacker, user = Client(), Client()
    # Given an attacker with the password opens the set-up page and keeps its key
    assert sign_in(attacker, "riley").url == SETUP_URL
    attackers_key = shown_key(attacker.get(SETUP_URL))
    attackers_code = code_from_key(attackers_key)

    # When the real user signs in and opens the set-up page
    assert sign_in(user, "riley").url == SETUP_URL
    page = user.get(SETUP_URL)

    # Then they are shown a new key, and the attacker's code does not confirm their set-up
    users_key = shown_key(page)
    assert users_key != attackers_key
    response = user.post(SETUP_URL, {"otp_token": attackers_code})
    assert "That code is not right" in response.content.decode()
    assert not signed_in(user)

    # When the user confirms their own app's code
    device = TOTPDevice.objects.get(user=staff_member, confirmed=False)
    assert device.bin_key == users_key
    response = user.post(SETUP_URL, {"otp_token": totp_code(device)})
    assert len(response.context["codes"]) == 10
    assert signed_in(user)

    # Then the user's is the only authenticator, and the attacker's key opens nothing
    assert list(TOTPDevice.objects.filter(user=staff_member)) == [device]
    response = attacker.post(SETUP_URL, {"otp_token": attackers_code})
    assert response.status_code == 302 and response.url == SECOND_FACTOR_URL
    assert not signed_in(attacker)
    sign_in(attacker, "riley")
    response = attacker.post(SECOND_FACTOR_URL, {"otp_token": code_from_key(attackers_key)})
    assert "That code is not right" in response.content.decode()
    assert not signed_in(attacker)


def test_another_sessions_set_up_cannot_be_confirmed(staff_member, second_factor_required):
    attacker, user = Client(), Client()
    # Given the user opened the set-up page, then the attacker opened it too (a newer set-up)
    sign_in(user, "riley")
    users_key = shown_key(user.get(SETUP_URL))
    sign_in(attacker, "riley")
    attackers_key = shown_key(attacker.get(SETUP_URL))
    assert attackers_key != users_key

    # When the user is talked into entering the attacker's app's code in their own session
    response = user.post(SETUP_URL, {"otp_token": code_from_key(attackers_key)})

    # Then nothing is confirmed: the user's session is shown a new key of its own
    assert not TOTPDevice.objects.filter(user=staff_member, confirmed=True).exists()
    assert not signed_in(user)
    assert "started again" in response.content.decode()
    assert shown_key(response) not in (users_key, attackers_key)
    # And the attacker's set-up was discarded by it: their code confirms nothing either
    response = attacker.post(SETUP_URL, {"otp_token": code_from_key(attackers_key)})
    assert not TOTPDevice.objects.filter(user=staff_member, confirmed=True).exists()
    assert not signed_in(attacker)
    assert TOTPDevice.objects.filter(user=staff_member).count() == 1


def test_recovery_codes_alone_must_be_used_before_setting_up_an_authenticator(
    staff_member, recovery_codes, second_factor_required
):
    attacker = Client()
    # Given a user with recovery codes and no authenticator (an admin removed the lost phone's)
    assert sign_in(attacker, "riley").url == SECOND_FACTOR_URL

    # When someone with the password only goes to the set-up page
    page = attacker.get(SETUP_URL)
    posted = attacker.post(SETUP_URL, {"otp_token": "123456"})

    # Then they are sent back to the code page, and no authenticator is made
    assert page.status_code == 302 and page.url == SECOND_FACTOR_URL
    assert posted.status_code == 302 and posted.url == SECOND_FACTOR_URL
    assert not TOTPDevice.objects.filter(user=staff_member).exists()
    assert StaticToken.objects.filter(device__user=staff_member).count() == 2

    # When a recovery code is used, the set-up opens
    user = Client()
    sign_in(user, "riley")
    user.post(SECOND_FACTOR_URL, {"otp_token": recovery_codes[0]})
    assert signed_in(user)
    assert user.get(SETUP_URL).status_code == 200


def test_a_session_signed_in_by_password_alone_cannot_add_to_a_set_up_second_factor(
    client, staff_member, recovery_codes
):
    # Given a session signed in by password only (e.g. before a second factor was asked)
    client.force_login(staff_member)

    response = client.get(SETUP_URL, follow=True)

    assert "Sign in with your second factor first" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=staff_member).exists()


def test_a_wrong_and_a_right_password_each_leave_an_audit_entry(
    staff_member, authenticator, second_factor_required
):
    client = Client()
    sign_in(client, "riley", "not the password", REMOTE_ADDR="198.51.100.7")
    sign_in(client, "riley", REMOTE_ADDR="198.51.100.7")

    wrong, right = SignInEvent.objects.order_by("id")
    assert (wrong.kind, wrong.user, wrong.username, str(wrong.address)) == (
        SignInEventKind.SIGN_IN_FAILED,
        staff_member,
        "riley",
        "198.51.100.7",
    )
    assert (right.kind, right.user, str(right.address), right.detail) == (
        SignInEventKind.PASSWORD_PASSED,
        staff_member,
        "198.51.100.7",
        "second factor next",
    )
    assert PASSWORD not in str(SignInEvent.objects.values_list())


def test_a_recovery_code_session_cannot_make_new_codes_without_the_app(
    client, staff_member, authenticator, recovery_codes
):
    # Given a session signed in with the password and a recovery code
    sign_in(client, "riley")
    client.post(SECOND_FACTOR_URL, {"otp_token": recovery_codes[0]})
    assert signed_in(client)
    assert "Code from the app" in client.get(OWN_PAGE).content.decode()

    # When it asks for new recovery codes without, or with a wrong, authenticator code
    for data in ({}, {"otp_token": "000000"}):
        response = client.post(NEW_CODES_URL, data, follow=True)

        # Then it is refused, and the remaining code still works
        assert "enter a code from your authenticator app" in response.content.decode()
        assert "codes" not in response.context
        assert not SignInEvent.objects.filter(kind=SignInEventKind.RECOVERY_CODES_REPLACED).exists()
        assert StaticToken.objects.filter(token=recovery_codes[1]).exists()

    # When it gives a fresh code from the authenticator app, new codes are made
    response = client.post(NEW_CODES_URL, {"otp_token": totp_code(authenticator)})
    assert len(response.context["codes"]) == 10
    assert not StaticToken.objects.filter(token=recovery_codes[1]).exists()


def test_a_recovery_code_session_without_an_authenticator_is_told_to_set_one_up(
    client, staff_member, recovery_codes
):
    sign_in(client, "riley")
    client.post(SECOND_FACTOR_URL, {"otp_token": recovery_codes[0]})
    assert signed_in(client)

    response = client.post(NEW_CODES_URL, follow=True)

    assert "set one up: that makes new recovery codes too" in response.content.decode()
    assert "codes" not in response.context
    assert StaticToken.objects.filter(token=recovery_codes[1]).exists()
