"""Idempotency-Key on POST and PATCH: the same key and request answer the first answer again and
do nothing twice; the same key with another request is a 422."""

from datetime import timedelta

import pytest
from django.utils import timezone

from api.idempotency import idempotent_requests_expired_delete
from api.models import IdempotentRequest
from conversions.models import Status
from tests.api.conftest import assert_problem
from tests.conversions.factories import changes_since_recorded

pytestmark = pytest.mark.django_db

BASE = "/api/v1/sdk-conversion-system/conversions"


def patch(api, path, key):
    return api.client.patch(path, headers={**api._headers(), "Idempotency-Key": key})


def post(api, path, body, key):
    return api.client.post(
        path,
        body,
        content_type="application/json",
        headers={**api._headers(), "Idempotency-Key": key},
    )


def test_the_same_patch_again_answers_the_first_answer_and_changes_nothing_more(
    api, conversion_factory
):
    conversion = conversion_factory()
    path = f"{BASE}/{conversion.click.gk_click_id}/status?status=Success"
    first = patch(api, path, "k-1")
    # Meanwhile someone else moves it on: a replay must not set it back.
    api.post(f"/api/v1/conversions/{conversion.pk}/status-changes", {"status": "rejected"})

    again = patch(api, path, "k-1")

    assert again.status_code == first.status_code == 200
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    conversion.refresh_from_db()
    assert conversion.status == Status.REJECTED
    assert changes_since_recorded().count() == 2


def test_the_same_key_with_another_request_is_a_422(api, conversion_factory):
    conversion = conversion_factory()
    path = f"/api/v1/conversions/{conversion.pk}/status-changes"
    post(api, path, {"status": "success"}, "k-2")

    assert_problem(post(api, path, {"status": "rejected"}, "k-2"), 422, "idempotency_key_reused")
    conversion.refresh_from_db()
    assert conversion.status == Status.SUCCESS


def test_keys_are_per_api_key_and_a_new_key_runs_again(api, conversion_factory):
    conversion = conversion_factory()
    path = f"/api/v1/conversions/{conversion.pk}/status-changes"

    post(api, path, {"status": "success"}, "a")
    post(api, path, {"status": "rejected"}, "b")

    conversion.refresh_from_db()
    assert conversion.status == Status.REJECTED


def test_a_problem_answer_is_kept_too(api):
    first = patch(api, f"{BASE}/nope/status?status=Success", "k-3")

    again = patch(api, f"{BASE}/nope/status?status=Success", "k-3")

    assert first.status_code == again.status_code == 404
    assert again.content == first.content


def test_a_request_still_running_is_a_409(api, operator_key, conversion_factory):
    api_key, _token = operator_key
    conversion = conversion_factory()
    path = f"{BASE}/{conversion.click.gk_click_id}/status?status=Success"
    patch(api, path, "k-4")
    IdempotentRequest.objects.filter(key="k-4").update(status_code=None)

    assert_problem(patch(api, path, "k-4"), 409, "idempotency_request_in_progress")


@pytest.mark.parametrize("key", ["x" * 10_240, "x" * 256])
def test_an_oversized_key_is_a_400(api, conversion_factory, key):
    conversion = conversion_factory()

    assert_problem(
        patch(api, f"{BASE}/{conversion.click.gk_click_id}/status?status=Success", key),
        400,
        "invalid_idempotency_key",
    )
    assert not changes_since_recorded().exists()


def test_keys_are_forgotten_after_the_hours_kept(api, conversion_factory, settings):
    conversion = conversion_factory()
    path = f"/api/v1/conversions/{conversion.pk}/status-changes"
    post(api, path, {"status": "success"}, "k-5")
    IdempotentRequest.objects.update(created_at=timezone.now() - timedelta(hours=25))

    again = post(api, path, {"status": "rejected"}, "k-5")

    assert again.status_code == 200
    assert "Idempotent-Replayed" not in again
    IdempotentRequest.objects.update(created_at=timezone.now() - timedelta(hours=25))
    assert idempotent_requests_expired_delete() == 1


def test_the_openapi_document_names_the_header_on_every_post_and_patch():
    from django.test import Client

    document = Client().get("/api/v1/openapi.json").json()

    for operations in document["paths"].values():
        for method, operation in operations.items():
            names = {p["name"] for p in operation.get("parameters", [])}
            assert ("Idempotency-Key" in names) == (method in ("post", "patch")), method
