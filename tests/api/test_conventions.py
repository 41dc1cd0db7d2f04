"""What every route under /api/v1/ shares: problem+json for every error, bodies limited
before they are read, the OpenAPI 3.1 document and the docs page from our own static files."""

import json
import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client, RequestFactory

from api.main import api as ninja_api
from tests.api.conftest import assert_problem

pytestmark = pytest.mark.django_db

ROUTES = {
    "/api/v1/sdk-conversion-system/conversions": {"get"},
    "/api/v1/sdk-conversion-system/conversions/{id}/status": {"patch"},
    "/api/v1/sdk-conversion-system/conversions/{id}/{conversion_event_id}/status": {"patch"},
    "/api/v1/conversions": {"get"},
    "/api/v1/conversions/{conversion_id}": {"get"},
    "/api/v1/conversions/{conversion_id}/status-changes": {"post"},
    "/api/v1/change-sets": {"post"},
    "/api/v1/change-sets/upload": {"post"},
    "/api/v1/conversion-uploads": {"post"},
    "/api/v1/change-sets/{change_set_id}": {"get"},
    "/api/v1/change-sets/{change_set_id}/outcomes": {"get"},
    "/api/v1/change-sets/{change_set_id}/outcomes.csv": {"get"},
    "/api/v1/change-sets/{change_set_id}/confirm": {"post"},
    "/api/v1/change-sets/{change_set_id}/approve": {"post"},
    "/api/v1/change-sets/{change_set_id}/revert": {"post"},
}


def test_an_unknown_path_under_the_api_is_a_404_problem(api):
    assert_problem(api.get("/api/v1/no-such-thing"), 404, "not_found")
    assert_problem(Client().get("/api/v1/"), 404, "not_found")


def test_a_wrong_method_is_a_405_problem(api):
    response = api.client.delete("/api/v1/conversions", headers=api._headers())

    assert_problem(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]


def test_a_body_over_the_limit_is_refused_before_it_is_read(api, conversion_factory, settings):
    settings.API_MAX_BODY_BYTES = 1000
    conversion = conversion_factory()

    response = api.post(
        f"/api/v1/conversions/{conversion.pk}/status-changes",
        {"status": "success", "reason": "x" * 2000},
    )

    assert_problem(response, 413, "body_too_large")


def test_an_unexpected_error_is_a_500_problem_without_a_trace():
    request = RequestFactory().get("/api/v1/conversions")

    response = ninja_api.on_exception(request, RuntimeError("secret internals"))

    assert_problem(response, 500, "server_error")
    assert b"secret internals" not in response.content


def _pairs_unique(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """A JSON object that names a key twice is refused by Swagger UI's parser ("duplicated
    mapping key"): the docs page then renders nothing."""
    keys = [key for key, _ in pairs]
    assert len(keys) == len(set(keys)), keys
    return dict(pairs)


def test_the_openapi_document_is_3_1_with_every_route_and_the_key_scheme():
    response = Client().get("/api/v1/openapi.json")

    assert response.status_code == 200
    document = json.loads(response.content, object_pairs_hook=_pairs_unique)
    assert document["openapi"].startswith("3.1")
    assert {path: set(ops) for path, ops in document["paths"].items()} == ROUTES
    schemes = document["components"]["securitySchemes"]
    assert schemes["ApiKeyAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["ApiKeyAuth"]["description"],
    }
    patch = document["paths"]["/api/v1/sdk-conversion-system/conversions/{id}/status"]["patch"]
    assert {"200", "202", "401", "403", "404", "409", "422"} <= set(patch["responses"])
    assert set(patch["responses"]["200"]["content"]) == {"application/json"}
    assert set(patch["responses"]["404"]["content"]) == {"application/problem+json"}


def test_the_docs_page_is_served_from_our_own_static_files():
    response = Client().get("/api/v1/docs")

    assert response.status_code == 200
    page = response.content.decode()
    assert not re.search(r"(src|href)=\"(https?:)?//", page)
    assert "/api/v1/openapi.json" in page
    for asset in re.findall(r"(?:src|href)=\"/static/([^\"]+)\"", page):
        assert finders.find(asset), asset
    assert "script-src 'self'" in response["Content-Security-Policy"]
