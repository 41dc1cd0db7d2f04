"""Sessions: the idle timeout, sign-out everywhere on a password change, headers and cookies."""

import time

import pytest
from django.test import Client

from access.middleware import LAST_ACTIVITY_KEY
from access.models import SignInEvent, SignInEventKind
from tests.access.conftest import PASSWORD, sign_in

pytestmark = pytest.mark.django_db


def idle_for(client: Client, seconds: float) -> None:
    session = client.session
    session[LAST_ACTIVITY_KEY] = time.time() - seconds
    session.save()


def test_a_session_idle_past_the_timeout_is_signed_out_with_a_message(client, staff_member):
    assert sign_in(client, "riley").status_code == 302
    assert client.get("/admin/").status_code == 200
    assert LAST_ACTIVITY_KEY in client.session

    idle_for(client, 31 * 60)
    response = client.get("/admin/conversions/conversion/", follow=True)

    assert response.redirect_chain[-1][0].startswith("/admin/login/")
    assert "You were signed out after 30 minutes without activity." in response.content.decode()
    assert client.get("/admin/").status_code == 302
    event = SignInEvent.objects.get(kind=SignInEventKind.TIMED_OUT)
    assert (event.username, event.detail) == ("riley", "no activity for 30 minutes")


def test_activity_within_the_timeout_keeps_the_session(client, staff_member, settings):
    settings.ADMIN_IDLE_TIMEOUT_MINUTES = 5
    sign_in(client, "riley")
    client.get("/admin/")

    idle_for(client, 4 * 60)
    assert client.get("/admin/").status_code == 200
    # That request counted as activity: the clock starts again from it
    assert time.time() - client.session[LAST_ACTIVITY_KEY] < 5


def test_a_password_change_signs_out_the_other_sessions(staff_member):
    # Given the staff member signed in from two browsers
    laptop, phone = Client(), Client()
    for browser in (laptop, phone):
        assert sign_in(browser, "riley").status_code == 302
        assert browser.get("/admin/").status_code == 200

    # When the password is changed from one of them
    response = laptop.post(
        "/admin/password_change/",
        {
            "old_password": PASSWORD,
            "new_password1": "a new and longer passphrase",
            "new_password2": "a new and longer passphrase",
        },
    )
    assert response.status_code == 302

    # Then that one stays signed in and the other is signed out
    assert laptop.get("/admin/").status_code == 200
    assert phone.get("/admin/").status_code == 302


def test_admin_pages_carry_the_security_headers(admin_client):
    response = admin_client.get("/admin/conversions/conversion/")

    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in directives["script-src"] + directives["style-src"]
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_sign_in_page_has_the_policy_too(client):
    assert "script-src 'self'" in client.get("/admin/login/")["Content-Security-Policy"]


def test_the_session_cookie_is_http_only(client, staff_member):
    response = sign_in(client, "riley")

    cookie = response.cookies["sessionid"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert 12 * 3600 - 60 < cookie["max-age"] <= 12 * 3600


def test_activity_does_not_push_back_the_end_of_the_session(client, staff_member):
    sign_in(client, "riley")
    ends = client.session.get_expiry_date()

    idle_for(client, 10 * 60)  # old enough for the next request to stamp the session again
    assert client.get("/admin/").status_code == 200

    assert time.time() - client.session[LAST_ACTIVITY_KEY] < 5
    assert client.session.get_expiry_date() == ends
