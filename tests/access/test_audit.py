"""The sign-in audit: every sign-in, failure and sign-out, read-only in the admin."""

import pytest
from django.test import RequestFactory

from access.addresses import client_address
from access.models import SignInEvent, SignInEventKind
from tests.access.conftest import sign_in

pytestmark = pytest.mark.django_db

AUDIT = "/admin/access/signinevent/"


def test_a_failure_records_the_name_typed_time_and_address(client):
    sign_in(client, "no-such-user", "guess", REMOTE_ADDR="198.51.100.7", HTTP_USER_AGENT="Tester/1")

    event = SignInEvent.objects.get()
    assert event.kind == SignInEventKind.SIGN_IN_FAILED
    assert (event.username, event.user, str(event.address)) == (
        "no-such-user",
        None,
        "198.51.100.7",
    )
    assert event.user_agent == "Tester/1" and event.at is not None
    assert "guess" not in str(SignInEvent.objects.values_list())


def test_the_right_password_of_a_non_staff_account_is_refused_alike_and_audited(
    client, django_user_model
):
    from tests.access.conftest import PASSWORD

    member = django_user_model.objects.create_user("customer", password=PASSWORD)

    response = sign_in(client, "customer")

    assert "Please enter the correct username and password" in response.content.decode()
    event = SignInEvent.objects.get()
    assert (event.kind, event.user, event.detail) == (
        SignInEventKind.SIGN_IN_FAILED,
        member,
        "not a staff account",
    )


def test_sign_in_and_sign_out_record_the_user(client, staff_member):
    sign_in(client, "riley")
    client.post("/admin/logout/")

    signed_in, signed_out = SignInEvent.objects.order_by("id")
    assert (signed_in.kind, signed_in.user) == (SignInEventKind.SIGNED_IN, staff_member)
    assert (signed_out.kind, signed_out.user) == (SignInEventKind.SIGNED_OUT, staff_member)


@pytest.mark.parametrize(("trusted", "expected"), [(False, "10.1.1.1"), (True, "203.0.113.5")])
def test_x_forwarded_for_is_believed_only_behind_the_proxy(settings, trusted, expected):
    settings.GOKART_TRUST_X_FORWARDED_FOR = trusted
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.1.1.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.5"
    )

    assert client_address(request) == expected


def test_a_forged_proxy_address_is_not_recorded(client, settings):
    settings.GOKART_TRUST_X_FORWARDED_FOR = True
    sign_in(client, "x", "y", REMOTE_ADDR="10.1.1.1", HTTP_X_FORWARDED_FOR="not an address")

    assert SignInEvent.objects.get().address is None


def test_the_admin_lists_filters_and_searches_the_audit_read_only(admin_client, client):
    sign_in(client, "alice", "guess")
    sign_in(client, "bob", "guess")

    page = admin_client.get(AUDIT).content.decode()
    assert "alice" in page and "bob" in page
    assert "Sign-in failed" in page
    searched = admin_client.get(AUDIT, {"q": "alice"}).content.decode()
    assert "alice" in searched and "bob" not in searched
    filtered = admin_client.get(AUDIT, {"kind__exact": SignInEventKind.SIGNED_IN}).content
    assert b"alice" not in filtered

    event = SignInEvent.objects.filter(username="alice").get()
    assert admin_client.get(f"{AUDIT}add/").status_code == 403
    assert admin_client.post(f"{AUDIT}{event.pk}/delete/", {"post": "yes"}).status_code == 403
    detail = admin_client.get(f"{AUDIT}{event.pk}/change/")
    assert detail.status_code == 200 and b'name="_save"' not in detail.content
    assert (
        admin_client.post(f"{AUDIT}{event.pk}/change/", {"username": "mallory"}).status_code == 403
    )
    event.refresh_from_db()
    assert event.username == "alice"
