"""``GET /metrics``: Prometheus text behind a bearer token, every series read at scrape time."""

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from callbacks.models import CallbackAttempt, CallbackDelivery
from callbacks.pausing import partner_pause
from conversions.models import ImportJob, Source, Status
from conversions.services import conversion_status_set

pytestmark = pytest.mark.django_db

TOKEN = "scrape-me-not-a-secret"


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_TOKEN = TOKEN


def scrape(client):
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_without_the_token_setting_there_is_no_endpoint(client, settings):
    settings.METRICS_TOKEN = ""

    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 404


def test_a_missing_or_wrong_token_is_forbidden(client, metrics_on):
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403


def test_the_series_of_callbacks_imports_and_postbacks(
    client, metrics_on, partner_factory, conversion_factory
):
    # Given a partner with a delivered callback and a due one, and a paused partner
    partner = partner_factory(name="Reward Wall", callback_url="https://rewards.example/cb")
    delivered, due = conversion_factory.create_batch(2, click__partner=partner)
    conversion_status_set(
        conversion_ids=[delivered.pk, due.pk], status=Status.SUCCESS, source=Source.ADMIN
    )
    delivery = CallbackDelivery.objects.get(conversion=delivered)
    CallbackDelivery.objects.filter(pk=delivery.pk).update(state="delivered", attempts=1)
    CallbackAttempt.objects.create(
        delivery=delivery,
        partner=partner,
        number=1,
        started_at=timezone.now(),
        outcome="delivered",
        duration_ms=120,
        response_status=200,
    )
    CallbackDelivery.objects.filter(conversion=due).update(
        created_at=timezone.now() - timedelta(minutes=10)
    )
    paused = partner_factory(name="Offerwall", callback_url="https://offerwall.example/cb")
    partner_pause(partner_id=paused.pk, reason="maintenance")
    # And an applied import job that took 90 s, and a postback with a bad token
    now = timezone.now()
    ImportJob.objects.create(
        original_name="statuses.csv",
        file="imports/statuses.csv",
        file_format="csv",
        state=ImportJob.State.APPLIED,
        apply_started_at=now - timedelta(seconds=90),
        apply_finished_at=now,
    )
    before = scrape(client).get(("gokart_postbacks_total", (("outcome", "bad_request"),)), 0)
    assert client.get("/postback/", {"gk_click_id": "x"}).status_code == 400

    samples = scrape(client)

    wall = ("partner", "Reward Wall")
    assert samples[("gokart_callback_attempts_total", (("outcome", "delivered"), wall))] == 1
    assert samples[("gokart_callback_deliveries", (wall, ("state", "due")))] == 1
    assert samples[("gokart_callback_backlog", (wall,))] == 1
    assert 590 <= samples[("gokart_callback_oldest_owed_age_seconds", (wall,))] <= 700
    assert samples[("gokart_callback_attempt_latency_seconds", (wall, ("quantile", "0.5")))] == 0.12
    assert samples[("gokart_callback_partner_paused", (("partner", "Offerwall"),))] == 1
    assert samples[("gokart_callback_partner_paused", (wall,))] == 0
    assert samples[("gokart_callback_partners_paused", ())] == 1
    assert samples[("gokart_import_jobs", (("state", "applied"),))] == 1
    assert samples[("gokart_import_jobs", (("state", "failed"),))] == 0
    assert samples[("gokart_import_job_duration_seconds_bucket", (("le", "60.0"),))] == 0
    assert samples[("gokart_import_job_duration_seconds_bucket", (("le", "300.0"),))] == 1
    assert samples[("gokart_import_job_duration_seconds_count", ())] == 1
    after = samples[("gokart_postbacks_total", (("outcome", "bad_request"),))]
    assert after == before + 1
