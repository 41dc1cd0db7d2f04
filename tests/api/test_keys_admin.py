"""API keys in the admin: created by a user for themselves, shown once, listed, revoked."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from api.models import ApiKey
from tests.api.conftest import ApiClient, key_for, user_with

pytestmark = pytest.mark.django_db

ADD = reverse("admin:api_apikey_add")
CHANGELIST = reverse("admin:api_apikey_changelist")


@pytest.fixture
def staff(django_user_model):
    return user_with(django_user_model, "staff", "view_conversion", is_staff=True)


@pytest.fixture
def staff_client(staff):
    client = Client()
    client.force_login(staff)
    return client


def test_a_staff_user_creates_a_key_and_sees_it_once(staff_client, staff):
    response = staff_client.post(
        ADD, {"name": "fraud system", "scopes": ["conversions:read"], "expires_at": ""}
    )

    assert response.status_code == 200
    token = re.search(r'<code id="api-key">([^<]+)</code>', response.content.decode())[1]
    assert "no-store" in response["Cache-Control"]
    api_key = ApiKey.objects.get()
    assert (api_key.user, api_key.created_by, api_key.name) == (staff, staff, "fraud system")
    assert api_key.scopes == ["conversions:read"]
    assert ApiClient(token).get("/api/v1/conversions").status_code == 200
    # Listed by prefix, never the key again.
    listing = staff_client.get(CHANGELIST).content.decode()
    assert api_key.prefix in listing and token not in listing
    page = staff_client.get(reverse("admin:api_apikey_change", args=[api_key.pk]))
    assert token not in page.content.decode()


def test_a_staff_user_cannot_pick_another_user(staff_client, staff, django_user_model):
    other = user_with(django_user_model, "other", "view_conversion")

    staff_client.post(ADD, {"name": "k", "scopes": ["conversions:read"], "user": other.pk})

    assert ApiKey.objects.get().user == staff


def test_a_superuser_creates_a_key_for_another_user(django_user_model):
    root = django_user_model.objects.create_superuser("root", password="pw")
    service = user_with(django_user_model, "billing", "view_conversion")
    client = Client()
    client.force_login(root)

    client.post(ADD, {"name": "billing", "scopes": ["conversions:read"], "user": service.pk})

    assert ApiKey.objects.get().user == service


def test_a_user_lists_only_their_own_keys(staff_client, staff, django_user_model):
    mine, _ = key_for(staff, name="mine")
    theirs, _ = key_for(user_with(django_user_model, "other"), name="theirs")

    listing = staff_client.get(CHANGELIST).content.decode()

    assert mine.prefix in listing and theirs.prefix not in listing


def test_revoking_in_the_admin_refuses_the_key_at_once(staff_client, staff):
    api_key, token = key_for(staff)
    assert ApiClient(token).get("/api/v1/conversions").status_code == 200

    staff_client.post(CHANGELIST, {"action": "revoke", "_selected_action": [api_key.pk]})

    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert ApiClient(token).get("/api/v1/conversions").status_code == 401
