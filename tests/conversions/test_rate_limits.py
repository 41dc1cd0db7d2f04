"""Rate limits of ``/click/`` and ``/postback/``, against the real Redis of the broker.

Each test sets small limits and counts from addresses (or offers, tokens) of its own, so that
its buckets are its own even with other test runs on the same Redis.
"""

import logging
import random
import socket
import time

import pytest
from django.conf import settings as django_settings

from callbacks.broker import redis_client
from conversions import rate_limits
from conversions.models import Click, Conversion

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def limits(settings, monkeypatch):
    """The broker's Redis, healthy as far as the limiter knows; both limits on, generous."""
    redis = redis_client()
    if redis is None:
        pytest.skip("needs a Redis broker (CELERY_BROKER_URL=redis://…)")
    monkeypatch.setattr(rate_limits, "_paused_until", 0.0)
    monkeypatch.setattr(rate_limits, "_failing", False)
    settings.TRACKING_RATE_LIMITS = True
    settings.TRACKING_RATE_PER_ADDRESS = settings.TRACKING_RATE_PER_OFFER = 1000
    settings.TRACKING_BURST_PER_ADDRESS = settings.TRACKING_BURST_PER_OFFER = 1000
    yield settings
    prefix = f"gokart:ratelimit:{django_settings.CELERY_TASK_DEFAULT_QUEUE}:"
    for key in list(redis.scan_iter(match=f"{prefix}*")):
        if any(mine in key.decode() for mine in _mine):
            redis.delete(key)
    _mine.clear()


_mine: list[str] = []


def own_address() -> str:
    """An address in the documentation range, in a /64 no other test run uses."""
    net = f"2001:db8:{random.randrange(1 << 16):x}:{random.randrange(1 << 16):x}"
    _mine.append(net)
    return f"{net}::1"


def closed_port() -> int:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        return listener.getsockname()[1]


def own_token(click) -> str:
    return click.offer.postback_secret


@pytest.fixture
def offer(offer_factory, offer_event_factory):
    offer = offer_factory()
    offer_event_factory(offer=offer, code="install")
    return offer


@pytest.fixture
def partner(partner_factory):
    return partner_factory()


@pytest.fixture
def click(click_factory, offer):
    return click_factory(offer=offer)


def postback(client, click, address, token=None, txn_id="order-1"):
    params = {
        "gk_click_id": click.gk_click_id,
        "event": "install",
        "txn_id": txn_id,
        "token": token or click.offer.postback_secret,
    }
    return client.get("/postback/", params, REMOTE_ADDR=address)


def assert_rate_limited(response, *words):
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    assert int(response["Retry-After"]) >= 1
    error = response.json()["error"]
    assert set(response.json()) == {"error"}
    for word in words:
        assert word in error


def test_clicks_over_the_address_limit_get_429_with_retry_after(client, limits, offer, partner):
    # Given 1 click a second from one address, with a burst of 3
    limits.TRACKING_RATE_PER_ADDRESS, limits.TRACKING_BURST_PER_ADDRESS = 1, 3
    address = own_address()
    url = f"/click/{offer.pk}/{partner.pk}/?sub=u"

    # When 4 clicks come at once
    answers = [client.get(url, REMOTE_ADDR=address) for _ in range(4)]

    # Then the burst is redirected, the 4th refused with the JSON error, and not recorded
    assert [answer.status_code for answer in answers[:3]] == [302, 302, 302]
    assert_rate_limited(answers[3], "Too many requests from this address", "1 per second")
    assert answers[3]["Retry-After"] == "1"
    assert Click.objects.count() == 3
    # The same /64 is the same client; another address is not affected
    same_net = address.replace("::1", "::beef")
    assert client.get(url, REMOTE_ADDR=same_net).status_code == 429
    assert client.get(url, REMOTE_ADDR=own_address()).status_code == 302


def test_postbacks_over_the_address_limit_get_429_and_record_nothing(client, limits, click):
    limits.TRACKING_RATE_PER_ADDRESS, limits.TRACKING_BURST_PER_ADDRESS = 1, 2
    address = own_address()

    first = postback(client, click, address)
    duplicate = postback(client, click, address)
    third = postback(client, click, address, txn_id="order-2")

    assert (first.status_code, duplicate.status_code) == (200, 200)
    assert duplicate.json()["duplicate"] is True
    assert_rate_limited(third, "Too many requests from this address")
    assert Conversion.objects.count() == 1


def test_an_offers_postbacks_are_limited_by_its_token_from_every_address(
    client, limits, click, click_factory
):
    # Given one postback a second per offer, with a burst of 2, counted from many addresses
    limits.TRACKING_RATE_PER_OFFER, limits.TRACKING_BURST_PER_OFFER = 1, 2
    _mine.append(rate_limits.hashlib.sha256(own_token(click).encode()).hexdigest()[:32])
    other_click = click_factory(offer=click.offer)

    answers = [
        postback(client, click, own_address(), txn_id="a"),
        postback(client, other_click, own_address(), txn_id="b"),
        postback(client, click, own_address(), txn_id="c"),
    ]

    assert [answer.status_code for answer in answers[:2]] == [200, 200]
    assert_rate_limited(answers[2], "Too many requests from this offer")
    # Someone without the token cannot spend the offer's budget: a wrong token gets its 403
    assert postback(client, click, own_address(), token="not-the-secret").status_code == 403


def test_an_offers_clicks_are_limited_before_the_database_is_read(client, limits, partner):
    limits.TRACKING_RATE_PER_OFFER, limits.TRACKING_BURST_PER_OFFER = 1, 2
    # An offer id no other run uses (and no offer has): the limit is counted before the lookup.
    offer_id = random.randrange(10**12, 10**13)
    _mine.append(f"offer:{offer_id}")
    url = f"/click/{offer_id}/{partner.pk}/"

    answers = [client.get(url, REMOTE_ADDR=own_address()) for _ in range(3)]

    assert [answer.status_code for answer in answers[:2]] == [404, 404]
    assert_rate_limited(answers[2], "Too many requests from this offer")


def test_a_refused_client_is_let_in_again_once_the_bucket_drains(client, limits, offer, partner):
    limits.TRACKING_RATE_PER_ADDRESS, limits.TRACKING_BURST_PER_ADDRESS = 20, 1
    address = own_address()
    url = f"/click/{offer.pk}/{partner.pk}/"

    assert client.get(url, REMOTE_ADDR=address).status_code == 302
    assert client.get(url, REMOTE_ADDR=address).status_code == 429
    time.sleep(0.06)  # one interval at 20/s
    assert client.get(url, REMOTE_ADDR=address).status_code == 302


def test_loopback_and_switched_off_limits_are_not_counted(client, limits, offer, partner):
    limits.TRACKING_RATE_PER_ADDRESS, limits.TRACKING_BURST_PER_ADDRESS = 1, 1
    url = f"/click/{offer.pk}/{partner.pk}/"

    # Loopback (a local proxy, a health check) is not one client
    assert [client.get(url, REMOTE_ADDR="127.0.0.1").status_code for _ in range(3)] == [302] * 3

    # With the limits switched off, an address is not counted either
    limits.TRACKING_RATE_LIMITS = False
    address = own_address()
    assert [client.get(url, REMOTE_ADDR=address).status_code for _ in range(3)] == [302] * 3

    # And 0 switches one limit off
    limits.TRACKING_RATE_LIMITS = True
    limits.TRACKING_RATE_PER_ADDRESS = 0
    assert [client.get(url, REMOTE_ADDR=address).status_code for _ in range(3)] == [302] * 3


def test_one_redis_round_trip_per_request_for_both_limits(client, limits, click, monkeypatch):
    redis = redis_client()
    address = own_address()
    _mine.append(rate_limits.hashlib.sha256(own_token(click).encode()).hexdigest()[:32])
    postback(client, click, address, txn_id="warm-up")  # the script loaded once per process
    sent = []
    real_execute = type(redis).execute_command

    def execute_command(self, *args, **options):
        sent.append(args[0])
        return real_execute(self, *args, **options)

    monkeypatch.setattr(type(redis), "execute_command", execute_command)
    monkeypatch.setattr(type(redis), "pipeline", lambda *a, **k: pytest.fail("no pipeline"))

    assert postback(client, click, address, txn_id="counted").status_code == 200

    assert sent == ["EVALSHA"]


def test_a_redis_outage_lets_tracking_through_and_is_logged_once(
    client, limits, offer, partner, caplog
):
    # Given Redis is unreachable, with limits that would refuse the second click
    limits.TRACKING_RATE_PER_ADDRESS, limits.TRACKING_BURST_PER_ADDRESS = 1, 1
    broker_url = limits.CELERY_BROKER_URL
    limits.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port()}/0"
    address = own_address()
    url = f"/click/{offer.pk}/{partner.pk}/"

    # When clicks keep coming
    with caplog.at_level(logging.WARNING, logger="conversions.rate_limits"):
        answers = [client.get(url, REMOTE_ADDR=address).status_code for _ in range(3)]
        rate_limits._paused_until = 0.0  # the pause is over: Redis is asked again
        answers.append(client.get(url, REMOTE_ADDR=address).status_code)

    # Then every click is recorded, and the outage is logged once
    assert answers == [302] * 4
    outage = [r for r in caplog.records if "rate limits are off" in r.getMessage()]
    assert len(outage) == 1

    # And once Redis answers again, that is logged, and the limits apply again
    limits.CELERY_BROKER_URL = broker_url
    rate_limits._paused_until = 0.0
    with caplog.at_level(logging.WARNING, logger="conversions.rate_limits"):
        assert client.get(url, REMOTE_ADDR=address).status_code == 302
    assert any("rate limits are on again" in r.getMessage() for r in caplog.records)
    assert client.get(url, REMOTE_ADDR=address).status_code == 429


class SteppedClock:
    """The leases' clock, moved by the test (Redis keeps its own, real, time)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def evalsha_counted(monkeypatch) -> list[str]:
    redis = redis_client()
    sent: list[str] = []
    real_execute = type(redis).execute_command

    def execute_command(self, *args, **options):
        sent.append(args[0])
        return real_execute(self, *args, **options)

    monkeypatch.setattr(type(redis), "execute_command", execute_command)
    return sent


def check(address):
    return rate_limits.tracking_rate_limit_check(
        endpoint=rate_limits.Endpoint.CLICK, address=address, offer_key=None
    )


def test_a_busy_process_takes_its_tokens_in_leases_and_never_more_than_the_limit(
    limits, monkeypatch
):
    # Given an address allowed a burst of 30 and almost no rate, leases of 50 ms
    limits.TRACKING_RATE_PER_ADDRESS, limits.TRACKING_BURST_PER_ADDRESS = 0.001, 30
    limits.TRACKING_RATE_LEASE_MS = 50
    clock = SteppedClock()
    monkeypatch.setattr(rate_limits, "_clock", clock)
    monkeypatch.setattr(rate_limits, "_leases", {})
    address = own_address()
    sent = evalsha_counted(monkeypatch)

    # When 10 requests come within one period: each is a round trip (no lease yet)
    assert [check(address) for _ in range(10)] == [None] * 10
    assert len(sent) == 10

    # And the next period's requests come at the same pace
    clock.now += 0.06
    answers = [check(address) for _ in range(40)]

    # Then they take leases (10 seen last period; at most a tenth of the burst: 3 at once),
    # and exactly the burst gets in, not one more
    admitted = answers.count(None)
    assert admitted == 20  # 30 in all
    refused = [answer for answer in answers if answer is not None]
    assert {answer.scope for answer in refused} == {rate_limits.Scope.ADDRESS}
    assert all(answer.retry_after_seconds >= 1 for answer in refused)
    # Round trips: 6 leases of 3, then a lease refused and one token, one more token, and one
    # per refusal (near the limit, single tokens until the next period)
    assert len(sent) - 10 == 6 + 2 + 1 + len(refused)


def test_a_lease_left_unspent_expires_with_its_period(limits, monkeypatch):
    limits.TRACKING_RATE_PER_ADDRESS, limits.TRACKING_BURST_PER_ADDRESS = 0.001, 100
    limits.TRACKING_RATE_LEASE_MS = 50
    clock = SteppedClock()
    monkeypatch.setattr(rate_limits, "_clock", clock)
    monkeypatch.setattr(rate_limits, "_leases", {})
    address = own_address()
    for _ in range(8):
        check(address)
    clock.now += 0.06
    sent = evalsha_counted(monkeypatch)

    check(address)  # takes a lease of 8, spends one
    check(address)  # from the lease
    assert len(sent) == 1
    clock.now += 0.06  # the period ends with 6 unspent
    check(address)
    assert len(sent) == 2


def test_leases_off_ask_redis_for_every_request(limits, monkeypatch):
    limits.TRACKING_RATE_LEASE_MS = 0
    address = own_address()
    check(address)
    sent = evalsha_counted(monkeypatch)
    for _ in range(5):
        check(address)
    assert sent == ["EVALSHA"] * 5
