"""One attempt, one deadline: a partner whose answer never ends holds nobody.

The per-read timeouts alone never end an answer that keeps coming: a body streamed for ever, or
one byte every half second (the tests' read timeout is 1 s). Each attempt has one deadline
(``CALLBACK_ATTEMPT_DEADLINE_SECONDS``, 2 s here) over connecting, the headers and the body,
and reads at most ``_RESPONSE_READ_LIMIT`` bytes of an answer.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse
from django.utils import timezone

from callbacks.delivery import callback_deliveries_deliver_due
from callbacks.models import CallbackAttempt, CallbackDelivery
from callbacks.outbox import callback_deliveries_claim
from conversions.models import Source, Status
from conversions.services import conversion_status_set
from tests.callbacks.conftest import wait_until

DEADLINE = 2.0
# What the clock may show beyond the deadline on a busy machine (a send, then the bookkeeping).
SLACK = 1.5
TRICKLE_EVERY = 0.5  # under the tests' 1 s read timeout: no single read ever times out


class StallingReceiver:
    """A partner's endpoint on 127.0.0.1 that starts an answer and does not finish it.

    ``answer`` is one of:

    - ``"endless body"``: 200, then a chunked body as fast as the socket takes it;
    - ``"trickled body"``: 200 with a long ``Content-Length``, then one byte every 0.5 s;
    - ``"trickled headers"``: the status line, then a header one byte every 0.5 s.

    It keeps going for ``stall_for`` seconds ("for ever" next to a 2 s deadline) or until the
    test ends, then drops the connection.
    """

    def __init__(self) -> None:
        self.answer = "trickled body"
        self.stall_for = 10.0
        self.requests = 0
        self.stopping = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 5  # a blocked write gives up (the sender has gone)

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests += 1
                with contextlib.suppress(OSError):  # the sender hung up: what a deadline does
                    receiver.stall(self.wfile.write)
                self.close_connection = True

            def log_message(self, format, *args) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callbacks/gokart"

    def stall(self, write) -> None:
        ends = time.monotonic() + self.stall_for

        def going() -> bool:
            return not self.stopping.is_set() and time.monotonic() < ends

        if self.answer == "endless body":
            write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            chunk = b"x" * 8192
            while going():
                write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        elif self.answer == "trickled body":
            write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nok")
            while going():
                self.stopping.wait(TRICKLE_EVERY)
                write(b".")
        else:
            write(b"HTTP/1.1 200 OK\r\nX-Padding: ")
            while going():
                self.stopping.wait(TRICKLE_EVERY)
                write(b"a")


@pytest.fixture
def stalling() -> Iterator[StallingReceiver]:
    receiver = StallingReceiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.stopping.set()
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture(autouse=True)
def short_deadline(callback_settings):
    callback_settings.CALLBACK_ATTEMPT_DEADLINE_SECONDS = DEADLINE
    return callback_settings


def approve(conversions):
    conversion_status_set(
        conversion_ids=[c.pk for c in conversions], status=Status.SUCCESS, source=Source.ADMIN
    )


NO_ANSWER = "No complete answer within 2 s."
BODY_STILL_COMING = "No complete answer within 2 s (HTTP 200 came, its body did not end)."
TOO_LONG = "HTTP 200 answer longer than 1 MB: not read to its end."


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("answer", "error", "excerpt"),
    [
        ("endless body", TOO_LONG, "x" * 2048),
        ("trickled body", BODY_STILL_COMING, ""),
        ("trickled headers", NO_ANSWER, ""),
    ],
)
def test_an_answer_that_does_not_end_is_retried_within_the_deadline(
    stalling, partner_factory, conversion_factory, answer, error, excerpt
):
    stalling.answer = answer
    conversion = conversion_factory(
        click__partner=partner_factory(callback_url=stalling.url), status=Status.PENDING
    )
    approve([conversion])

    started = time.monotonic()
    attempts = callback_deliveries_deliver_due()
    took = time.monotonic() - started

    assert (attempts, stalling.requests) == (1, 1)
    assert took < DEADLINE + SLACK
    delivery = CallbackDelivery.objects.get(conversion=conversion)
    assert delivery.state == CallbackDelivery.State.PENDING
    assert delivery.last_error == error
    assert delivery.last_response_status is None
    assert delivery.lease_expires_at is None
    # A retry like any timeout's: about two minutes later.
    wait = (delivery.next_attempt_at - delivery.retrying_since).total_seconds()
    assert 90 <= wait <= 150
    [attempt] = CallbackAttempt.objects.filter(delivery=delivery)
    assert attempt.outcome == CallbackAttempt.Outcome.RETRY
    assert attempt.error == error
    assert attempt.duration_ms < (DEADLINE + 0.5) * 1000
    if answer == "trickled body":
        assert attempt.duration_ms >= DEADLINE * 1000
    assert attempt.response_body == excerpt  # the first 2 kB of what was read


@pytest.mark.django_db
def test_a_claim_outlasts_its_sends(partner_factory, conversion_factory, short_deadline):
    # Even a lease configured shorter than the deadline leaves room for two whole sends.
    short_deadline.CALLBACK_ATTEMPT_DEADLINE_SECONDS = 15.0
    short_deadline.CALLBACK_LEASE_SECONDS = 3.0
    approve([conversion_factory(click__partner=partner_factory(callback_url="http://a.test/"))])

    before = timezone.now()
    [claimed] = callback_deliveries_claim(limit=10)

    assert claimed.lease_expires_at >= before + timedelta(seconds=2 * 15.0)


@pytest.mark.django_db(transaction=True)
def test_a_trickling_partner_does_not_hold_back_the_others(
    celery_worker, stalling, receiver, partner_factory, conversion_factory
):
    stalling.stall_for = 120.0  # until the test ends
    trickling = partner_factory(callback_url=stalling.url)  # first: its callback is sent first
    healthy = partner_factory(callback_url=receiver.url)
    stuck = conversion_factory(click__partner=trickling, status=Status.PENDING)
    owed = conversion_factory.create_batch(20, click__partner=healthy, status=Status.PENDING)

    approve([stuck, *owed])  # one commit: one dispatch claims all 21 in one batch

    received = receiver.wait_for(20, timeout=DEADLINE + 8)
    assert len({callback.delivery_id for callback in received}) == 20
    delivery = CallbackDelivery.objects.get(conversion=stuck)
    wait_until(lambda: CallbackDelivery.objects.get(pk=delivery.pk).lease_expires_at is None)
    delivery.refresh_from_db()
    assert delivery.state == CallbackDelivery.State.PENDING
    assert delivery.last_error == BODY_STILL_COMING
    assert stalling.requests == 1


@pytest.mark.django_db
def test_a_test_callback_to_a_trickling_partner_returns_within_the_deadline(
    admin_client, stalling, partner_factory
):
    partner = partner_factory(callback_url=stalling.url)

    started = time.monotonic()
    response = admin_client.post(
        reverse("admin:callbacks_partner_test_callback", args=[partner.pk]), follow=True
    )
    took = time.monotonic() - started

    assert took < DEADLINE + SLACK
    assert [str(message) for message in response.context["messages"]] == [
        f"Test callback to {stalling.url}: {BODY_STILL_COMING}"
    ]
