"""Lockout after repeated failed sign-ins (django-axes), with one message for every case."""

import pytest
from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from access.models import SignInEvent, SignInEventKind
from tests.access.conftest import SECOND_FACTOR_URL, sign_in

pytestmark = pytest.mark.django_db

WRONG_PASSWORD = (
    "Please enter the correct username and password for a staff account. "
    "Note that both fields may be case-sensitive."
)
LOCKED = "Too many failed sign-ins. Try again in 15 minutes."


def kinds():
    return list(SignInEvent.objects.order_by("id").values_list("kind", flat=True))


def test_an_unknown_user_and_a_wrong_password_get_the_same_message(client, staff_member):
    unknown = sign_in(client, "nobody-here", "whatever")
    wrong = sign_in(client, "riley", "not the password")

    assert unknown.status_code == wrong.status_code == 200
    assert WRONG_PASSWORD in unknown.content.decode()
    assert WRONG_PASSWORD in wrong.content.decode()
    assert unknown.context["form"].errors == wrong.context["form"].errors


def test_after_the_limit_even_the_right_password_is_refused(client, staff_member, settings):
    # Given four failed sign-ins, the fifth locks the name out
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(client, "riley", "guess").status_code == 200
    locking = sign_in(client, "riley", "guess")
    assert locking.status_code == 429
    assert LOCKED in locking.content.decode()

    # When the right password comes next, it is refused with the same message
    response = sign_in(client, "riley")
    assert response.status_code == 429
    assert LOCKED in response.content.decode()
    assert WRONG_PASSWORD not in response.content.decode()
    assert client.get("/admin/").status_code == 302

    # And the audit has four failures, then the lockout and the refused attempt
    assert kinds() == [SignInEventKind.SIGN_IN_FAILED] * 4 + [SignInEventKind.LOCKED_OUT] * 2


def test_a_locked_out_unknown_name_reads_exactly_as_a_locked_out_account(
    client, staff_member, settings
):
    for name in ("riley", "nobody-here"):
        for _ in range(settings.AXES_FAILURE_LIMIT):
            response = sign_in(client, name, "guess", REMOTE_ADDR=f"10.0.0.{len(name)}")
        assert response.status_code == 429
        assert LOCKED in response.content.decode()


def test_failures_from_one_address_lock_it_for_every_name(client, staff_member, settings):
    for number in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, f"spray-{number}", "guess", REMOTE_ADDR="203.0.113.9")

    assert sign_in(client, "riley", REMOTE_ADDR="203.0.113.9").status_code == 429
    # Another address is not affected
    assert sign_in(client, "riley", REMOTE_ADDR="198.51.100.1").status_code == 302


def test_wrong_second_factor_codes_count_towards_the_lockout(
    client, staff_member, authenticator, settings
):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # the lockout, not django-otp's throttle, is tested
    sign_in(client, "riley")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert client.post(SECOND_FACTOR_URL, {"otp_token": "000000"}).status_code == 200
    response = client.post(SECOND_FACTOR_URL, {"otp_token": "000000"})

    assert response.status_code == 429
    assert LOCKED in response.content.decode()
    # The pending sign-in is gone: the code page sends back to the password
    assert client.get(SECOND_FACTOR_URL).url == "/admin/login/"
    assert sign_in(client, "riley").status_code == 429


def test_unlock_in_the_admin_lets_them_in_and_is_audited(
    client, admin_client, staff_member, settings
):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "riley", "guess")
    assert sign_in(client, "riley").status_code == 429

    # The lockout page lists the counter, with how to lift it
    changelist = admin_client.get("/admin/axes/accessattempt/")
    assert changelist.status_code == 200
    page = changelist.content.decode()
    assert "Locked Out" in page and 'id="lockout-help"' in page
    assert "Unlock: forget the failed sign-ins" in page
    assert "delete_selected" not in page

    # When an admin selects it and runs Unlock
    attempt = AccessAttempt.objects.get(username="riley")
    response = admin_client.post(
        "/admin/axes/accessattempt/",
        {"action": "unlock", ACTION_CHECKBOX_NAME: [attempt.pk]},
        follow=True,
    )
    assert "Unlocked 1 row" in response.content.decode()

    # Then the right password signs in again
    assert sign_in(client, "riley").status_code == 302
    unlocked = SignInEvent.objects.get(kind=SignInEventKind.UNLOCKED)
    assert unlocked.username == "riley" and unlocked.detail.startswith("by admin:")
    assert kinds()[-1] == SignInEventKind.SIGNED_IN


def test_the_failure_counters_keep_no_password_or_code(client, staff_member, authenticator):
    sign_in(client, "riley", "hunter2-secret")
    sign_in(client, "riley")
    client.post(SECOND_FACTOR_URL, {"otp_token": "123456"})

    stored = " ".join(AccessAttempt.objects.values_list("post_data", flat=True))
    assert "hunter2-secret" not in stored and "123456" not in stored
    assert "correct horse" not in stored


def test_axes_pages_other_than_the_counters_are_not_shown(admin_client):
    from axes.models import AccessFailureLog, AccessLog

    assert admin.site.is_registered(AccessAttempt)
    assert not admin.site.is_registered(AccessLog)
    assert not admin.site.is_registered(AccessFailureLog)
