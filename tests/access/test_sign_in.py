"""The admin's two-step sign-in: password, then a second factor when required or set up."""

import pytest
from django.contrib.auth.models import Permission
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

INDEX = "/admin/"


def signed_in(client) -> bool:
    return client.get(INDEX).status_code == 200


def test_without_a_second_factor_the_password_signs_in(client, staff_member):
    # Given 2FA is not required (DEBUG in tests) and the staff member has no device
    response = sign_in(client, "riley")

    assert response.status_code == 302 and response.url == INDEX
    assert signed_in(client)
    event = SignInEvent.objects.get(kind=SignInEventKind.SIGNED_IN)
    assert (event.username, event.detail, str(event.address)) == (
        "riley",
        "password only",
        "127.0.0.1",
    )


def test_when_required_the_password_alone_does_not_sign_in(
    client, staff_member, authenticator, second_factor_required
):
    response = sign_in(client, "riley")

    assert response.status_code == 302 and response.url == SECOND_FACTOR_URL
    assert not signed_in(client)
    assert not SignInEvent.objects.filter(kind=SignInEventKind.SIGNED_IN).exists()


def test_the_authenticator_code_completes_the_sign_in(
    client, staff_member, authenticator, second_factor_required
):
    response = client.post(
        "/admin/login/?next=/admin/conversions/conversion/",
        {"username": "riley", "password": PASSWORD},
    )
    assert response.url == SECOND_FACTOR_URL

    response = client.post(SECOND_FACTOR_URL, {"otp_token": totp_code(authenticator)})

    assert response.status_code == 302 and response.url == "/admin/conversions/conversion/"
    assert signed_in(client)
    event = SignInEvent.objects.get(kind=SignInEventKind.SIGNED_IN)
    assert event.detail == "password and authenticator app"


def test_a_wrong_code_is_refused_and_audited(
    client, staff_member, authenticator, second_factor_required
):
    sign_in(client, "riley")

    response = client.post(SECOND_FACTOR_URL, {"otp_token": "000000"})

    assert response.status_code == 200
    assert "That code is not right" in response.content.decode()
    assert not signed_in(client)
    assert SignInEvent.objects.filter(
        kind=SignInEventKind.SECOND_FACTOR_FAILED, username="riley"
    ).exists()


def test_a_set_up_second_factor_is_asked_for_even_when_not_required(
    client, staff_member, authenticator
):
    assert sign_in(client, "riley").url == SECOND_FACTOR_URL


def test_a_recovery_code_signs_in_once(client, staff_member, authenticator, recovery_codes):
    sign_in(client, "riley")
    response = client.post(SECOND_FACTOR_URL, {"otp_token": " ALPHA234 "}, follow=True)

    assert response.redirect_chain[-1][0] == "/admin/"
    assert "recovery code: 1 left" in response.content.decode()
    used = SignInEvent.objects.get(kind=SignInEventKind.RECOVERY_CODE_USED)
    assert (used.username, used.detail) == ("riley", "1 left")
    assert (
        SignInEvent.objects.get(kind=SignInEventKind.SIGNED_IN).detail
        == "password and a recovery code"
    )

    # When the same code is tried again in a new sign-in, it is refused
    client.post("/admin/logout/")
    sign_in(client, "riley")
    response = client.post(SECOND_FACTOR_URL, {"otp_token": "alpha234"})
    assert "That code is not right, or was used already" in response.content.decode()
    assert not signed_in(client)


def test_the_pending_sign_in_expires(
    client, staff_member, authenticator, second_factor_required, settings
):
    settings.ADMIN_SECOND_FACTOR_WITHIN_SECONDS = 0
    sign_in(client, "riley")

    response = client.post(SECOND_FACTOR_URL, {"otp_token": totp_code(authenticator)}, follow=True)

    assert "The sign-in took too long" in response.content.decode()
    assert not signed_in(client)


def test_required_without_a_device_goes_to_set_up_then_signs_in(
    client, staff_member, second_factor_required, settings
):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # retry at once after the wrong code below
    # Given a staff member who must use 2FA and has no device: the password step leads to set-up
    response = sign_in(client, "riley")
    assert response.url == SETUP_URL
    assert not signed_in(client)

    # The set-up page shows a QR code (inline SVG) and the key, but does not sign in
    page = client.get(SETUP_URL)
    assert page.status_code == 200
    assert '<svg viewBox="0 0' in page.content.decode()
    device = TOTPDevice.objects.get(user=staff_member, confirmed=False)
    assert not signed_in(client)

    # A wrong code does not confirm it
    assert (
        "That code is not right" in client.post(SETUP_URL, {"otp_token": "123456"}).content.decode()
    )

    # The app's code confirms it, shows the recovery codes once, and completes the sign-in
    response = client.post(SETUP_URL, {"otp_token": totp_code(device)})
    assert response.status_code == 200
    codes = response.context["codes"]
    assert len(codes) == 10 and all(code in response.content.decode() for code in codes)
    assert signed_in(client)
    device.refresh_from_db()
    assert device.confirmed
    kinds = list(SignInEvent.objects.order_by("id").values_list("kind", flat=True))
    assert kinds == [
        SignInEventKind.PASSWORD_PASSED,
        SignInEventKind.ENROLLED,
        SignInEventKind.SIGNED_IN,
    ]
    assert not any(code in str(SignInEvent.objects.values_list()) for code in codes)


def test_set_up_is_not_open_to_someone_with_a_device_who_has_only_the_password(
    client, staff_member, authenticator, second_factor_required
):
    sign_in(client, "riley")

    response = client.get(SETUP_URL)

    assert response.status_code == 302 and response.url == SECOND_FACTOR_URL
    assert TOTPDevice.objects.filter(user=staff_member).count() == 1


def test_set_up_is_not_open_to_anonymous_visitors(client):
    response = client.get(SETUP_URL)

    assert response.status_code == 302 and response.url.startswith("/admin/login/")


def test_the_admin_refuses_an_unverified_session_when_2fa_is_required(
    client, staff_member, settings
):
    # Given a session signed in by password only (e.g. from before 2FA was required)
    client.force_login(staff_member)
    assert signed_in(client)

    settings.ADMIN_REQUIRE_2FA = True

    response = client.get(INDEX)
    assert response.status_code == 302 and response.url.startswith("/admin/login/")


def test_2fa_can_be_required_only_of_those_who_change_statuses(client, staff_member, settings):
    settings.ADMIN_REQUIRE_2FA = False
    settings.ADMIN_REQUIRE_2FA_FOR_PERMISSIONS = True
    assert sign_in(client, "riley").url == "/admin/"

    client.post("/admin/logout/")
    staff_member.user_permissions.add(Permission.objects.get(codename="change_conversion_status"))

    assert sign_in(client, "riley").url == SETUP_URL


def test_the_approval_permission_counts_by_its_name(staff_member, settings):
    from access.policy import MONEY_MOVING_PERMISSIONS, second_factor_required

    settings.ADMIN_REQUIRE_2FA = False
    settings.ADMIN_REQUIRE_2FA_FOR_PERMISSIONS = True
    assert "conversions.approve_large_status_change" in MONEY_MOVING_PERMISSIONS
    assert not second_factor_required(staff_member)
    staff_member.is_superuser = True  # holds every permission, existing or not
    assert second_factor_required(staff_member)


def test_own_page_sets_up_an_authenticator_and_verifies_the_session(client, staff_member):
    client.force_login(staff_member)
    page = client.get("/admin/two-factor/").content.decode()
    assert "Not set up." in page and 'id="two-factor-link"' in page

    client.get(SETUP_URL)
    device = TOTPDevice.objects.get(user=staff_member)
    response = client.post(SETUP_URL, {"otp_token": totp_code(device)})
    assert len(response.context["codes"]) == 10

    page = client.get("/admin/two-factor/").content.decode()
    assert "Set up on" in page and "10 unused recovery codes left." in page
    # The session is verified by the new device, so new recovery codes can be generated
    new = client.post("/admin/two-factor/recovery-codes/")
    assert len(new.context["codes"]) == 10
    assert set(new.context["codes"]).isdisjoint(response.context["codes"])
    assert SignInEvent.objects.filter(kind=SignInEventKind.RECOVERY_CODES_REPLACED).count() == 1


def test_new_recovery_codes_need_a_verified_session(client, staff_member, authenticator):
    client.force_login(staff_member)

    response = client.post("/admin/two-factor/recovery-codes/", follow=True)

    assert "Sign in with your authenticator app first" in response.content.decode()
    assert not SignInEvent.objects.filter(kind=SignInEventKind.RECOVERY_CODES_REPLACED).exists()


def test_a_device_removed_during_the_sign_in_leads_to_set_up(
    client, staff_member, authenticator, second_factor_required
):
    sign_in(client, "riley")
    authenticator.delete()  # an administrator removed the lost phone's device meanwhile

    response = client.get(SECOND_FACTOR_URL)

    assert response.status_code == 302 and response.url == SETUP_URL
    assert client.get(SETUP_URL).status_code == 200
    assert not signed_in(client)
