"""/api/v1/docs in a real Chromium: Swagger UI renders the API from our own static files, with
no request leaving the server and no Content-Security-Policy refusal (the ``page`` fixture)."""

from urllib.parse import urlparse

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_docs_page_shows_every_route_offline(page, live_server):
    hosts = set()
    page.on("request", lambda request: hosts.add(urlparse(request.url).netloc))

    page.goto("/api/v1/docs")

    page.get_by_text("/api/v1/sdk-conversion-system/conversions/{id}/status").first.wait_for()
    assert page.get_by_text("/api/v1/conversions/{conversion_id}/status-changes").count()
    assert hosts == {urlparse(live_server.url).netloc}
