"""Per-key rate limits of the Management API, against the real Redis of the broker: 429 with
Retry-After over the limit, nothing done, and the RateLimit fields on every answer.

Each key has a random prefix, and its bucket is named by it: a test's buckets are its own even
with other runs on the same Redis."""

import re
import socket

import pytest
from django.conf import settings as django_settings

from api.models import IdempotentRequest
from callbacks.broker import redis_client
from conversions import rate_limits
from conversions.models import Status
from tests.api.conftest import ApiClient, assert_problem, key_for
from tests.conversions.factories import changes_since_recorded

pytestmark = pytest.mark.django_db

LIST = "/api/v1/conversions"
POLICY = re.compile(r'^"per-key";q=(\d+);w=60$')
STATE = re.compile(r'^"per-key";r=(\d+);t=(\d+)$')


@pytest.fixture(autouse=True)
def limits(settings, monkeypatch):
    """3 requests a minute per key, counted in the broker's Redis (healthy as far as the
    limiter knows); each test's buckets deleted after it."""
    redis = redis_client() or pytest.skip("needs a Redis broker (CELERY_BROKER_URL=redis://…)")
    for name, value in (("_paused_until", 0.0), ("_failing", False)):
        monkeypatch.setattr(rate_limits, name, value)
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    yield settings
    prefix = f"gokart:ratelimit:{django_settings.CELERY_TASK_DEFAULT_QUEUE}:api:key:"
    if _mine:
        redis.delete(*(prefix + key for key in _mine))
    _mine.clear()


_mine: list[str] = []


def client_of(user, **fields):
    api_key, token = key_for(user, **fields)
    _mine.append(api_key.prefix)
    return ApiClient(token)


def rate_state(response):
    quota = int(POLICY.match(response["RateLimit-Policy"])[1])
    remaining, reset = map(int, STATE.match(response["RateLimit"]).groups())
    return quota, remaining, reset


def test_a_key_over_its_limit_gets_a_429_problem_with_retry_after(operator, django_user_model):
    api = client_of(operator)

    answers = [api.get(LIST) for _ in range(4)]

    assert [answer.status_code for answer in answers[:3]] == [200, 200, 200]
    assert [rate_state(answer)[:2] for answer in answers[:3]] == [(3, 2), (3, 1), (3, 0)]
    # The whole quota is back a minute after the first request.
    assert 58 <= rate_state(answers[2])[2] <= 60
    refused = assert_problem(answers[3], 429, "rate_limited")
    assert "3 requests per 60 s" in refused["detail"]
    # One request every 20 s: the next is accepted about 20 s later.
    assert 19 <= int(answers[3]["Retry-After"]) <= 20
    assert rate_state(answers[3])[:2] == (3, 0)
    # Another key (of the same user) has its own budget.
    assert client_of(operator, name="other").get(LIST).status_code == 200


def test_a_refused_status_change_changes_nothing(operator, conversion_factory):
    api = client_of(operator)
    conversion = conversion_factory()
    path = f"/api/v1/conversions/{conversion.pk}/status-changes"
    for _ in range(3):
        api.get(LIST)

    response = api.post(path, {"status": "rejected"})

    assert_problem(response, 429, "rate_limited")
    conversion.refresh_from_db()
    assert conversion.status == Status.PENDING
    assert not changes_since_recorded().exists()


def test_an_idempotent_replay_counts_and_carries_the_fields(operator, conversion_factory):
    api = client_of(operator)
    conversion = conversion_factory()
    path = f"/api/v1/conversions/{conversion.pk}/status-changes"
    headers = {**api._headers(), "Idempotency-Key": "replayed"}

    def send():
        body = {"status": "rejected"}
        return api.client.post(path, body, content_type="application/json", headers=headers)

    first, replay, third = send(), send(), send()
    refused = send()

    assert (first.status_code, replay.status_code, third.status_code) == (200, 200, 200)
    assert replay["Idempotent-Replayed"] == "true"
    assert [rate_state(answer)[1] for answer in (first, replay, third)] == [2, 1, 0]
    assert_problem(refused, 429, "rate_limited")
    # The refusal is not kept as the key's answer: the first one still is.
    assert IdempotentRequest.objects.get(key="replayed").status_code == 200
    assert changes_since_recorded().count() == 1


def test_a_refused_key_is_not_counted_and_gets_no_fields(operator):
    answer = ApiClient("gk_00000000_not-a-key").get(LIST)

    assert_problem(answer, 401, "unknown_key")
    assert "RateLimit" not in answer and "RateLimit-Policy" not in answer


def test_the_limit_switched_off_leaves_requests_uncounted(limits, operator):
    limits.API_RATE_LIMIT_PER_MINUTE = 0
    api = client_of(operator)

    answers = [api.get(LIST) for _ in range(5)]

    assert [answer.status_code for answer in answers] == [200] * 5
    assert "RateLimit" not in answers[-1]


def test_a_redis_outage_lets_requests_through_without_fields(limits, operator):
    api = client_of(operator)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        closed_port = listener.getsockname()[1]
    broker_url = limits.CELERY_BROKER_URL
    limits.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port}/0"

    answers = [api.get(LIST) for _ in range(5)]

    assert [answer.status_code for answer in answers] == [200] * 5
    assert "RateLimit" not in answers[-1]
    # Redis back (and the pause after the failure over): counted again.
    limits.CELERY_BROKER_URL = broker_url
    rate_limits._paused_until = 0.0
    assert rate_state(api.get(LIST))[:2] == (3, 2)
