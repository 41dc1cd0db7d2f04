"""The tracking tier as it is deployed: ``gunicorn gokart.tracking.wsgi`` with our gunicorn
config, on its pooled, prepared connections, against the test database."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from decimal import Decimal
from pathlib import Path
from urllib.error import HTTPError
from urllib.parse import urlencode

import pytest
from django.db import connection

from callbacks.models import CallbackDelivery
from conversions.models import Click, Conversion, StatusChange

pytestmark = pytest.mark.django_db(transaction=True)

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def tracking_server(tmp_path):
    """The tracking tier on 127.0.0.1 (one worker, two threads), on the test database."""
    port = _free_port()
    database = connection.settings_dict
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env["DATABASE_URL"] = (
        f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    )
    env["TRACKING_DATABASE_POOL_SIZE"] = "2"
    access_log = tmp_path / "access.log"
    server = subprocess.Popen(  # noqa: S603 -- our own interpreter and config
        [
            str(Path(sys.executable).with_name("gunicorn")),
            *["gokart.tracking.wsgi", "-c", "python:gokart.gunicorn_config", "--workers=1"],
            *["--worker-class=gthread", "--threads=2"],
            f"--bind=127.0.0.1:{port}",
            f"--access-logfile={access_log}",
            f"--error-logfile={tmp_path / 'error.log'}",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        started = time.monotonic()
        while get_status(f"{base}/healthz") != 200:
            assert server.poll() is None, (tmp_path / "error.log").read_text()
            assert time.monotonic() - started < 30, "gunicorn did not start"
            time.sleep(0.2)
        yield base, access_log
    finally:
        server.terminate()
        server.wait(timeout=10)


def get_status(url):
    try:
        return get(url)[0]
    except OSError:  # not listening yet
        return None


def get(url):
    """Status and body of a GET (redirects not followed)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=10) as response:
            return response.status, response.headers, response.read()
    except HTTPError as error:
        return error.code, error.headers, error.read()


def test_the_tracking_tier_records_postbacks_and_clicks(
    tracking_server, click_factory, offer_factory, offer_event_factory, partner_factory
):
    base, access_log = tracking_server
    offer = offer_factory()
    offer_event_factory(offer=offer, code="install", payout=Decimal("1.25"), revenue=Decimal("2"))
    partner = partner_factory(callback_url="http://127.0.0.1:9/callbacks")
    clicks = [click_factory(offer=offer, partner=partner) for _ in range(6)]

    def postback(click, **overrides):
        params = {
            "gk_click_id": click.gk_click_id,
            "event": "install",
            "txn_id": f"order-{click.pk}",
            "token": offer.postback_secret,
            **overrides,
        }
        status, _, body = get(f"{base}/postback/?{urlencode(params)}")
        return status, json.loads(body)

    # When six postbacks arrive (each statement prepared after its first use), one twice
    answers = [postback(click) for click in clicks]
    again = postback(clicks[0])
    refused = postback(clicks[1], token="wrong")
    landing_status, landing_headers, _ = get(f"{base}/click/{offer.pk}/{partner.pk}/?sub=u-1")

    # Then each is recorded once, with its audit and outbox rows; the repeat is a duplicate
    assert [status for status, _ in answers] == [200] * 6
    assert {body["status"] for _, body in answers} == {"success"}
    assert again == (200, {**answers[0][1], "duplicate": True})
    assert refused == (403, {"error": "Invalid token."})
    assert Conversion.objects.count() == 6
    assert StatusChange.objects.count() == 6
    assert CallbackDelivery.objects.count() == 6
    recorded = Click.objects.get(sub_id="u-1")
    assert landing_status == 302
    assert landing_headers["Location"].endswith(f"click={recorded.gk_click_id}")
    # And the admin is not served here; the health probes are, and are not logged
    assert get(f"{base}/admin/")[0] == 404
    assert get(f"{base}/healthz")[:1] == (200,)
    ready_status, _, ready = get(f"{base}/readyz")
    assert (ready_status, json.loads(ready)["status"]) == (200, "ready")
    server_log = access_log.read_text()
    assert "/postback/?" in server_log
    assert "/healthz" not in server_log and "/readyz" not in server_log
