"""``/healthz`` and ``/readyz`` (``gokart.health``): what a load balancer or an orchestrator
gets from the admin's application and from the tracking tier's."""

import json
import threading
import time
from io import BytesIO

import psycopg
import pytest
from django.db import connection
from django.test import override_settings

from gokart.health import health_answered, readiness_connections_close

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def readiness_connection_closed():
    """The readiness check's thread keeps its connection to the test database: closed after
    each test, so that the database can be flushed and dropped."""
    yield
    readiness_connections_close()


def _django_never_called(environ, start_response):
    raise AssertionError(f"Django was called for {environ['PATH_INFO']}")


def wsgi_get(application, path, host="10.1.2.3:8000"):
    """GET ``path`` from a WSGI application as a probe does (its Host the pod's address)."""
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "10.1.2.3",
        "SERVER_PORT": "8000",
        "HTTP_HOST": host,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": BytesIO(),
        "wsgi.errors": BytesIO(),
    }
    answered = {}

    def start_response(status, headers):
        answered["status"] = int(status.split()[0])
        answered["headers"] = dict(headers)

    body = b"".join(application(environ, start_response))
    if answered["headers"].get("Content-Type") == "application/json":
        body = json.loads(body)
    return answered["status"], answered["headers"], body


def test_healthz_answers_without_django_or_any_dependency():
    status, headers, body = wsgi_get(health_answered(_django_never_called), "/healthz")

    assert (status, body) == (200, {"status": "ok"})
    assert headers["Content-Type"] == "application/json"


def test_readyz_is_ready_when_postgresql_and_redis_answer():
    status, _, body = wsgi_get(health_answered(_django_never_called), "/readyz")

    assert (status, body) == (200, {"status": "ready", "postgresql": "ok", "redis": "ok"})


def test_readyz_names_redis_when_it_refuses():
    with override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0"):
        started = time.monotonic()
        status, _, body = wsgi_get(health_answered(_django_never_called), "/readyz")

    assert status == 503
    assert body["status"] == "unavailable"
    assert body["postgresql"] == "ok"
    assert body["redis"].startswith("failed (")
    assert "127.0.0.1" not in json.dumps(body)  # the answer names no address
    assert time.monotonic() - started < 1.5


def test_readyz_names_postgresql_when_it_does_not_answer_within_a_second():
    # Given a session holding the table the check reads, so the check waits on it
    params = connection.get_connection_params()
    params = {key: params[key] for key in ("dbname", "user", "host", "port") if key in params}
    blocker = psycopg.connect(**params)
    blocker.execute("LOCK TABLE django_migrations IN ACCESS EXCLUSIVE MODE")
    try:
        started = time.monotonic()
        status, _, body = wsgi_get(health_answered(_django_never_called), "/readyz")
        waited = time.monotonic() - started
        # A probe while the check still hangs answers at once, without starting another
        again_started = time.monotonic()
        again_status, _, again = wsgi_get(health_answered(_django_never_called), "/readyz")
        again_waited = time.monotonic() - again_started
    finally:
        blocker.rollback()
        blocker.close()

    assert (status, body) == (
        503,
        {"status": "unavailable", "postgresql": "no answer within 1 s", "redis": "ok"},
    )
    assert 0.9 < waited < 1.5
    assert again_status == 503 and again["postgresql"] == "no answer within 1 s"
    assert again_waited < 0.5
    # And once the table is free, the process is ready again
    deadline = time.monotonic() + 5
    while wsgi_get(health_answered(_django_never_called), "/readyz")[0] != 200:
        assert time.monotonic() < deadline, "never ready again"
        time.sleep(0.1)


def test_concurrent_probes_share_one_check():
    answers = []

    def probe():
        answers.append(wsgi_get(health_answered(_django_never_called), "/readyz")[0])

    threads = [threading.Thread(target=probe) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert answers == [200] * 8


def test_the_admin_application_answers_health_for_any_host():
    from gokart.wsgi import application

    status, _, body = wsgi_get(application, "/healthz", host="10.9.9.9")
    other_status, _, _ = wsgi_get(application, "/admin/login/", host="10.9.9.9")

    assert (status, body) == (200, {"status": "ok"})
    assert other_status == 400  # Django still refuses that host for everything else
