"""API keys: hashed, scoped, revocable, expiring, acting as their user; both header forms."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from api.keys import api_key_create, api_key_revoke
from api.models import ApiKey, Scope
from tests.api.conftest import ApiClient, assert_problem, key_for, user_with

pytestmark = pytest.mark.django_db

LIST = "/api/v1/conversions"


def test_a_key_is_stored_as_its_prefix_and_digest_only(operator):
    api_key, token = key_for(operator)

    row = ApiKey.objects.get(pk=api_key.pk)
    assert token.startswith(row.prefix + "_")
    assert token not in (row.secret_sha256, row.prefix, row.name)
    assert len(row.secret_sha256) == 64
    assert len(token) > 50


@pytest.mark.parametrize("scheme", ["ApiToken", "Bearer", "apitoken", "bearer"])
def test_both_header_forms_authenticate(operator_key, scheme):
    _key, token = operator_key

    response = ApiClient(token, scheme=scheme).get(LIST)

    assert response.status_code == 200


def test_a_request_records_the_keys_last_use(operator_key):
    api_key, token = operator_key

    ApiClient(token).get(LIST)

    api_key.refresh_from_db()
    assert api_key.last_used_at is not None
    assert api_key.last_used_from == "127.0.0.1"


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        (None, "missing_key"),
        ("Basic dXNlcjpwdw==", "malformed_authorization"),
        ("ApiToken ", "malformed_authorization"),
        ("ApiToken gk_00000000_not-a-key", "unknown_key"),
        ("Bearer something-else", "unknown_key"),
    ],
)
def test_a_missing_or_unknown_key_is_a_401_problem(authorization, code):
    client = ApiClient(None)
    client.authorization = authorization

    response = client.get(LIST)

    assert_problem(response, 401, code)
    assert "ApiToken" in response["WWW-Authenticate"]


def test_a_key_with_a_wrong_secret_is_unknown(operator_key):
    api_key, token = operator_key

    response = ApiClient(token[:-4] + "AAAA").get(LIST)

    assert_problem(response, 401, "unknown_key")


def test_a_revoked_key_is_refused_at_once(operator_key):
    api_key, token = operator_key
    client = ApiClient(token)
    assert client.get(LIST).status_code == 200

    api_key_revoke(api_key=api_key)

    assert_problem(client.get(LIST), 401, "revoked_key")


def test_an_expired_key_is_refused(operator):
    api_key, token = key_for(operator, expires_at=timezone.now() + timedelta(hours=1))
    ApiKey.objects.filter(pk=api_key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert_problem(ApiClient(token).get(LIST), 401, "expired_key")


def test_a_key_of_a_deactivated_user_is_refused(operator_key, operator):
    _key, token = operator_key
    operator.is_active = False
    operator.save()

    assert_problem(ApiClient(token).get(LIST), 401, "inactive_user")


def test_a_key_without_the_scope_gets_a_403(operator):
    _key, token = key_for(operator, scopes=[Scope.CONVERSIONS_WRITE])

    assert_problem(ApiClient(token).get(LIST), 403, "missing_scope")


def test_a_key_acts_with_its_users_permissions_only(django_user_model):
    """Every scope, but a user who may not view conversions: 403."""
    nobody = user_with(django_user_model, "nobody")
    _key, token = key_for(nobody)

    assert_problem(ApiClient(token).get(LIST), 403, "missing_permission")


def test_a_user_creates_keys_for_themselves_only(operator, django_user_model):
    other = user_with(django_user_model, "other")

    with pytest.raises(ValidationError):
        api_key_create(name="x", user=other, created_by=operator, scopes=["conversions:read"])


def test_a_superuser_creates_a_key_for_a_service_user(django_user_model):
    admin = django_user_model.objects.create_superuser("root", password="pw")
    service = user_with(django_user_model, "billing", "view_conversion")

    api_key, token = api_key_create(
        name="billing", user=service, created_by=admin, scopes=["conversions:read"]
    )

    assert api_key.user == service
    assert ApiClient(token).get(LIST).status_code == 200


def test_a_user_who_must_use_two_step_sign_in_sets_it_up_before_creating_a_key(operator, settings):
    settings.ADMIN_REQUIRE_2FA = True
    operator.is_staff = True
    operator.save()

    with pytest.raises(ValidationError, match="two-step"):
        key_for(operator)

    TOTPDevice.objects.create(user=operator, name="phone", confirmed=True)
    api_key, _token = key_for(operator)
    assert api_key.pk


@pytest.mark.parametrize(
    "fields",
    [
        {"scopes": []},
        {"scopes": ["conversions:delete"]},
        {"name": "  "},
        {"expires_at": timezone.now() - timedelta(days=1)},
    ],
)
def test_a_key_needs_a_name_known_scopes_and_a_future_expiry(operator, fields):
    with pytest.raises(ValidationError):
        key_for(operator, **fields)
