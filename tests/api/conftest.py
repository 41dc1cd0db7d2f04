import json

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from api.keys import api_key_create
from api.models import Scope

ALL_SCOPES = list(Scope.values)


def user_with(django_user_model, username, *codenames, **fields):
    user = django_user_model.objects.create_user(username, password="pw", **fields)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


def key_for(user, *, scopes=ALL_SCOPES, name="billing-bot", **fields):
    """A real key of ``user`` (the key row and the key itself)."""
    return api_key_create(name=name, user=user, created_by=user, scopes=scopes, **fields)


class ApiClient:
    """Django's test client with an API key in the Authorization header."""

    def __init__(self, token, scheme="ApiToken"):
        self.client = Client()
        self.authorization = f"{scheme} {token}" if token else None

    def _headers(self):
        return {"Authorization": self.authorization} if self.authorization else {}

    def get(self, path, data=None):
        return self.client.get(path, data, headers=self._headers())

    def patch(self, path):
        return self.client.patch(path, headers=self._headers())

    def post(self, path, body):
        return self.client.post(
            path, body, content_type="application/json", headers=self._headers()
        )


@pytest.fixture
def operator(django_user_model):
    """A user who may view conversions and change their statuses."""
    return user_with(django_user_model, "operator", "view_conversion", "change_conversion_status")


@pytest.fixture
def operator_key(operator):
    return key_for(operator)


@pytest.fixture
def api(operator_key):
    _key, token = operator_key
    return ApiClient(token)


def assert_problem(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = json.loads(response.content)
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:gokart:problem:{code}"
    assert body["title"] and body["detail"]
    assert "Traceback" not in response.content.decode()
    return body
