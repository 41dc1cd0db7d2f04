"""Hostile requests to the tracking endpoints: refused with JSON, bounded, nothing recorded."""

import io
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.test import Client

from conversions.models import Click, Conversion
from tests.conversions.test_tracking import assert_error, params_for, post_form

pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def offer(offer_factory, offer_event_factory):
    offer = offer_factory()
    offer_event_factory(offer=offer, code="install")
    return offer


@pytest.fixture
def click(click_factory, offer):
    return click_factory(offer=offer)


class UnreadableBody(io.RawIOBase):
    """A request body that fails the test if anything reads it."""

    def read(self, size=-1):
        raise AssertionError("the body was read")


def test_a_declared_300_mb_body_is_refused_before_it_is_read(client, click):
    response = client.generic(
        "POST",
        "/postback/",
        b"x",  # (replaced by the body below; the client needs one to send the content type)
        content_type="application/x-www-form-urlencoded",
        CONTENT_LENGTH=str(300 * 1024 * 1024),
        **{"wsgi.input": UnreadableBody()},
    )

    assert_error(response, 413, "larger than 16,384 bytes")
    assert not Conversion.objects.exists()


def test_a_multipart_body_is_refused_without_being_parsed(client, click):
    response = client.generic(
        "POST",
        "/postback/",
        b"x",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(300 * 1024 * 1024),
        **{"wsgi.input": UnreadableBody()},
    )

    assert_error(response, 400, "Multipart bodies are not accepted")
    assert not Conversion.objects.exists()


def test_a_body_over_the_bound_without_a_declared_length_is_cut_and_refused(
    client, click, settings
):
    settings.TRACKING_MAX_BODY_BYTES = 100
    body = b"token=" + b"x" * 500
    response = client.generic(
        "POST", "/postback/", body, content_type="application/x-www-form-urlencoded"
    )

    assert_error(response, 413, "larger than 100 bytes")


def test_a_multipart_form_from_the_test_client_is_refused(client, click):
    response = client.post("/postback/", params_for(click))

    assert_error(response, 400, "Multipart")


def test_a_form_body_within_the_bound_is_read(client, click):
    response = post_form(client, "/postback/", params_for(click))

    assert response.status_code == 200, response.content
    assert Conversion.objects.count() == 1


@pytest.mark.parametrize("where", ["query", "body"])
def test_a_parameter_that_is_not_utf8_is_a_400(client, click, where):
    query = (
        f"gk_click_id={click.gk_click_id}&event=install&token={click.offer.postback_secret}"
        "&txn_id=order-%FF"
    )
    if where == "query":
        response = client.get(f"/postback/?{query}")
    else:
        response = client.generic(
            "POST", "/postback/", query.encode(), content_type="application/x-www-form-urlencoded"
        )

    assert_error(response, 400, "txn_id", "not valid UTF-8")
    assert not Conversion.objects.exists()


def test_two_different_invalid_txn_ids_never_collide(client, click_factory, offer):
    first, second = click_factory(offer=offer), click_factory(offer=offer)
    for click, txn in ((first, "%FE"), (second, "%FF")):
        response = client.get(
            f"/postback/?gk_click_id={click.gk_click_id}&token={offer.postback_secret}&txn_id={txn}"
        )
        assert response.status_code == 400
    assert not Conversion.objects.exists()


def test_a_parameter_name_that_is_not_utf8_is_a_400(client, click):
    response = client.get(f"/postback/?gk_click_id={click.gk_click_id}&%FF=1")

    assert_error(response, 400, "not valid UTF-8")


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_click_with_another_method_is_a_json_405_even_with_csrf_checks(
    offer, partner_factory, method
):
    partner = partner_factory()
    client = Client(enforce_csrf_checks=True)

    response = getattr(client, method)(f"/click/{offer.pk}/{partner.pk}/?sub=u")

    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert response["Allow"] == "GET"
    assert not Click.objects.exists()


def test_click_sub_that_is_not_utf8_is_a_400(client, offer, partner_factory):
    partner = partner_factory()

    response = client.get(f"/click/{offer.pk}/{partner.pk}/?sub=%C3")

    assert response.status_code == 400
    assert "not valid UTF-8" in response.json()["error"]
    assert not Click.objects.exists()


# --- gunicorn's own refusals ------------------------------------------------------------------


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def gunicorn_server():
    port = _free_port()
    server = subprocess.Popen(  # noqa: S603 -- our own interpreter and config
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "gokart.wsgi",
            "-c",
            "python:gokart.gunicorn_config",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
        ],
        cwd=BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "gokart.settings"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=10)


def _raw_request(port, data):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(data)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return head.decode("latin-1"), body


def test_a_request_line_over_gunicorns_limit_is_answered_json(gunicorn_server):
    line = b"GET /postback/?txn_id=" + b"x" * 5000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

    head, body = _raw_request(gunicorn_server, line)

    assert head.startswith("HTTP/1.1 414")
    assert "Content-Type: application/json" in head
    import json

    assert "form-encoded POST body" in json.loads(body)["error"]
