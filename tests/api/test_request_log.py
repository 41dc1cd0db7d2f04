"""Each API key's request log: every answered request made with a key, one row written after the
answer, kept to the latest API_REQUEST_LOG_PER_KEY per key by a beat task; the key's admin page
lists them."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from api.keys import api_key_revoke
from api.models import ApiRequest, IdempotentRequest
from api.tasks import api_requests_trim_task, idempotent_requests_purge
from gokart.celery import app as celery_app
from tests.api.conftest import ApiClient, key_for, user_with

pytestmark = pytest.mark.django_db

ADDRESS = "203.0.113.7"


def logged(api_key):
    return list(
        ApiRequest.objects.filter(api_key=api_key)
        .order_by("id")
        .values_list("method", "path", "status_code", "problem_code", "client_address")
    )


def test_each_answered_request_is_logged_under_its_key(operator_key, conversion_factory):
    api_key, token = operator_key
    api = ApiClient(token)
    headers = api._headers()
    conversion = conversion_factory()
    status_path = f"/api/v1/conversions/{conversion.pk}/status-changes"

    api.client.get(
        "/api/v1/conversions", {"status": "pending"}, headers=headers, REMOTE_ADDR=ADDRESS
    )
    api.client.get("/api/v1/conversions/999999999", headers=headers, REMOTE_ADDR=ADDRESS)
    api.client.post(
        status_path, {"status": "rejected"}, content_type="application/json", headers=headers
    )
    api.client.post(
        status_path, {"status": "nope"}, content_type="application/json", headers=headers
    )

    assert logged(api_key) == [
        ("GET", "/api/v1/conversions?status=pending", 200, "", ADDRESS),
        ("GET", "/api/v1/conversions/999999999", 404, "conversion_not_found", ADDRESS),
        ("POST", status_path, 200, "", "127.0.0.1"),
        ("POST", status_path, 422, "invalid_request", "127.0.0.1"),
    ]
    durations = ApiRequest.objects.values_list("duration_ms", flat=True)
    assert all(0 < duration < 10_000 for duration in durations)
    answered = ApiRequest.objects.values_list("answered_at", flat=True)
    assert all(timezone.now() - moment < timedelta(minutes=1) for moment in answered)


def test_logging_a_request_is_one_insert(api):
    api.get("/api/v1/conversions")  # the first request of a process prepares what it caches

    with CaptureQueriesContext(connection) as queries:
        assert api.get("/api/v1/conversions").status_code == 200

    writes = [q["sql"] for q in queries if "api_apirequest" in q["sql"]]
    assert len(writes) == 1 and writes[0].startswith("INSERT")


def test_a_revoked_keys_requests_are_logged_under_it_and_unknown_keys_nowhere(operator_key):
    api_key, token = operator_key
    api_key_revoke(api_key=api_key)

    assert ApiClient(token).get("/api/v1/conversions").status_code == 401
    assert ApiClient("gk_00000000_unknown").get("/api/v1/conversions").status_code == 401
    assert Client().get("/api/v1/conversions").status_code == 401

    assert logged(api_key) == [("GET", "/api/v1/conversions", 401, "revoked_key", "127.0.0.1")]
    assert ApiRequest.objects.count() == 1


def test_an_idempotent_replay_is_logged_too(operator_key, conversion_factory):
    api_key, token = operator_key
    api = ApiClient(token)
    path = f"/api/v1/conversions/{conversion_factory().pk}/status-changes"
    headers = {**api._headers(), "Idempotency-Key": "again"}

    for _ in range(2):
        api.client.post(
            path, {"status": "success"}, content_type="application/json", headers=headers
        )

    assert [row[1:3] for row in logged(api_key)] == [(path, 200), (path, 200)]


def test_the_trim_keeps_each_keys_latest_requests(settings, operator):
    settings.API_REQUEST_LOG_PER_KEY = 3
    busy, busy_token = key_for(operator, name="busy")
    quiet, quiet_token = key_for(operator, name="quiet")
    for number in range(5):
        ApiClient(busy_token).get("/api/v1/conversions", {"limit": number + 1})
    for _ in range(2):
        ApiClient(quiet_token).get("/api/v1/conversions")

    dropped = api_requests_trim_task.apply().get()

    assert dropped == 2
    assert [row[1] for row in logged(busy)] == [
        f"/api/v1/conversions?limit={number}" for number in (3, 4, 5)
    ]
    assert len(logged(quiet)) == 2


def test_beat_runs_the_purge_of_idempotency_keys_and_the_trim(settings, operator_key):
    api_key, _token = operator_key
    old = timezone.now() - timedelta(hours=settings.API_IDEMPOTENCY_HOURS + 1)
    IdempotentRequest.objects.create(api_key=api_key, key="old", request_sha256="0", created_at=old)
    IdempotentRequest.objects.create(
        api_key=api_key, key="new", request_sha256="0", created_at=timezone.now()
    )
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}

    ours = {"api.tasks.idempotent_requests_purge", "api.tasks.api_requests_trim_task"}
    assert ours <= scheduled
    assert ours <= set(celery_app.tasks), "the schedule names the registered tasks"
    assert idempotent_requests_purge.apply().get() == 1
    assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["new"]


def test_the_keys_admin_page_lists_its_recent_requests(django_user_model, conversion_factory):
    staff = user_with(django_user_model, "staff", "view_conversion", is_staff=True)
    api_key, token = key_for(staff)
    ApiClient(token).get("/api/v1/conversions/424242")
    ApiClient(token).get("/api/v1/conversions", {"status": "success"})
    client = Client()
    client.force_login(staff)

    page = client.get(reverse("admin:api_apikey_change", args=[api_key.pk])).content.decode()

    assert "Recent requests" in page
    newest, oldest = page.index("status=success"), page.index("/api/v1/conversions/424242")
    assert newest < oldest
    assert "conversion_not_found" in page and ">404<" in page
    assert token not in page
