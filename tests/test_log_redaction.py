"""A postback's token never reaches a log: not Django's request log (nor the admins' error mail
made from it), not runserver's request lines, not gunicorn's access log (security item 6)."""

import logging
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from urllib.error import HTTPError

import pytest
from django.core import mail
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer
from django.views.debug import ExceptionReporter

from conversions import views
from gokart.log_redaction import query_tokens_mask

pytestmark = pytest.mark.django_db

TOKEN = "s3cret-postback-token-4f9a"
BASE_DIR = Path(__file__).resolve().parent.parent


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def logged():
    """What the django.request and django.server loggers hand their handlers."""
    handler = Records()
    loggers = [logging.getLogger("django.request"), logging.getLogger("django.server")]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler.records
    for logger in loggers:
        logger.removeHandler(handler)


def everything_shown(record: logging.LogRecord) -> str:
    """The record as any handler could render it: its message and, for a request, the
    error report Django's admin mail builds (URL, GET, POST, META)."""
    shown = [record.getMessage()]
    request = getattr(record, "request", None)
    if hasattr(request, "META"):
        shown.append(request.get_full_path())
        shown.append(
            ExceptionReporter(request, None, None, None, is_email=True).get_traceback_text()
        )
    return "\n".join(shown)


def test_a_refused_postback_in_the_request_log_has_no_token(client, logged):
    response = client.get("/postback/", {"gk_click_id": "no-such-click", "token": TOKEN})

    assert response.status_code == 404
    [record] = [r for r in logged if r.name == "django.request"]
    shown = everything_shown(record)
    assert "/postback/" in shown
    assert TOKEN not in shown


def test_a_request_too_big_to_mask_is_logged_without_it(client, logged, settings):
    many = "&".join(f"p{number}=1" for number in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS))

    response = client.get(f"/postback/?{many}&token={TOKEN}")

    assert response.status_code == 400
    [record] = [r for r in logged if r.name == "django.request"]
    assert TOKEN not in everything_shown(record)


def test_a_failed_postbacks_error_mail_has_no_token(client, logged, settings, monkeypatch):
    # Given the admins are mailed about errors, and recording a postback breaks
    settings.ADMINS = [("Ops", "ops@example.com")]

    def broken(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(views, "conversion_record_from_postback", broken)

    # When a postback comes with its token in the query string
    response = client.get(
        "/postback/", {"gk_click_id": "a1b2c3", "event": "install", "token": TOKEN}
    )

    # Then the 500 is logged and mailed, with the token masked everywhere
    assert response.status_code == 500
    [record] = [r for r in logged if r.name == "django.request"]
    assert TOKEN not in everything_shown(record)
    [message] = mail.outbox
    assert "/postback/" in message.body and "gk_click_id=a1b2c3" in message.body
    assert TOKEN not in message.subject + message.body


@pytest.mark.django_db(transaction=True)
def test_runservers_request_line_has_no_token(logged):
    server = WSGIServer(("127.0.0.1", 0), WSGIRequestHandler)
    server.set_app(WSGIHandler())  # not gokart.wsgi: setting up again resets logging
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/postback/?gk_click_id=nope&token={TOKEN}"
        with pytest.raises(HTTPError) as answer:
            urllib.request.urlopen(url, timeout=10)  # noqa: S310 -- our own server
        assert answer.value.code == 404
    finally:
        server.shutdown()
        server.server_close()

    lines = [r.getMessage() for r in logged if r.name == "django.server"]
    assert any("GET /postback/?gk_click_id=nope&token=" in line for line in lines), lines
    assert not any(TOKEN in line for line in lines)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.django_db(transaction=True)
def test_gunicorns_access_log_has_no_token(tmp_path):
    # Given gunicorn with our config, logging every request
    port = _free_port()
    access_log = tmp_path / "access.log"
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
            "--access-logfile",
            str(access_log),
            "--error-logfile",
            str(tmp_path / "error.log"),
        ],
        cwd=BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "gokart.settings"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)

        # When a postback with its token in the query string is refused
        url = f"http://127.0.0.1:{port}/postback/?gk_click_id=nope&token={TOKEN}"
        with pytest.raises(HTTPError):
            urllib.request.urlopen(url, timeout=10)  # noqa: S310 -- our own server
    finally:
        server.terminate()
        server.wait(timeout=10)

    # Then its access log line has the path and the click id, not the token
    log = access_log.read_text()
    assert "GET /postback/?gk_click_id=nope&token=" in log
    assert TOKEN not in log
    assert TOKEN not in (tmp_path / "error.log").read_text()


@pytest.mark.parametrize(
    ("logged_text", "shown"),
    [
        ("token=abc&gk_click_id=1", "token=[masked]&gk_click_id=1"),
        ("GET /postback/?a=1&token=abc HTTP/1.1", "GET /postback/?a=1&token=[masked] HTTP/1.1"),
        ("/postback/?%74oken=abc&TOKEN=def", "/postback/?%74oken=[masked]&TOKEN=[masked]"),
        ('"GET /p/?token=a%26b;x=1"', '"GET /p/?token=[masked];x=1"'),
        ("/postback/?mytoken=abc&token_id=2", "/postback/?mytoken=abc&token_id=2"),
        ("Forbidden: /postback/", "Forbidden: /postback/"),
    ],
)
def test_only_token_values_are_masked(logged_text, shown):
    assert query_tokens_mask(logged_text) == shown
