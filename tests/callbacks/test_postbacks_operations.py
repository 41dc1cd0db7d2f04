"""Templated postbacks in operation, as the JSON callbacks are: a 503 retried then delivered
under the same id, a 410 failed at once and resent, counted in /metrics and the partner's
health (real Celery worker, real receiver on 127.0.0.1)."""

from urllib.parse import parse_qs, urlsplit

import pytest

from callbacks.health import partners_health
from callbacks.models import CallbackAttempt, CallbackDelivery
from callbacks.services import callback_deliveries_resend
from tests.audit import assert_audit_intact
from tests.callbacks.conftest import Answer
from tests.callbacks.test_metrics import TOKEN, scrape
from tests.callbacks.test_postbacks import succeed, templated_partner
from tests.callbacks.test_retries import make_due_and_sweep, scripted, settled

pytestmark = pytest.mark.django_db(transaction=True)

State = CallbackDelivery.State


@pytest.fixture
def postback(partner_factory, receiver, conversion_factory):
    """A conversion of a partner whose only destination is a global postback."""
    partner = templated_partner(partner_factory, receiver, "id={callback_id}&s={status}")
    return conversion_factory(click__partner=partner)


def sent_ids(receiver):
    return [parse_qs(urlsplit(callback.path).query)["id"][0] for callback in receiver.received]


def test_a_503_is_retried_then_delivered_under_the_same_id(celery_worker, receiver, postback):
    receiver.answer = scripted(Answer(status=503, body=b"busy"))
    succeed(postback)
    delivery = settled(CallbackDelivery.objects.get(conversion=postback), attempts=1)

    assert (delivery.state, delivery.last_error) == (State.PENDING, "HTTP 503 from the partner.")
    make_due_and_sweep(delivery)

    delivery = settled(delivery, attempts=2)
    assert delivery.state == State.DELIVERED
    receiver.wait_for(2)
    assert sent_ids(receiver) == [str(delivery.id)] * 2
    assert list(
        CallbackAttempt.objects.filter(delivery=delivery).values_list("response_status", flat=True)
    ) == [503, 200]
    assert_audit_intact()


def test_a_410_fails_at_once_is_counted_and_a_resend_sends_the_same_url(
    celery_worker, receiver, postback, client, settings
):
    settings.METRICS_TOKEN = TOKEN
    receiver.answer = scripted(Answer(status=410, body=b"gone"))
    succeed(postback)
    delivery = settled(CallbackDelivery.objects.get(conversion=postback), attempts=1)

    assert (delivery.state, delivery.last_error) == (
        State.FAILED,
        "HTTP 410 from the partner: not retried.",
    )
    partner = postback.partner
    health = partners_health(partner_ids=[partner.pk])[partner.pk]
    assert (health.failed, health.last_24h.total) == (1, 1)
    failed = ("gokart_callback_deliveries", (("partner", partner.name), ("state", "failed")))
    assert scrape(client)[failed] == 1

    assert callback_deliveries_resend(delivery_ids=[delivery.pk]) == 1

    delivery = settled(delivery, attempts=2)
    assert delivery.state == State.DELIVERED
    first, second = receiver.wait_for(2)
    assert first.path == second.path
    assert sent_ids(receiver) == [str(delivery.id)] * 2
    assert scrape(client).get(failed, 0) == 0
    assert_audit_intact()
