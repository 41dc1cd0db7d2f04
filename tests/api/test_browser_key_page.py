"""In a real browser, at 1440 and 390 pixels: an API key's page lists its recent requests, and
fits the screen (nothing wider than the window, no table cutting its last column), long paths
included.

Set ``GOKART_SCREENSHOTS`` to a folder to keep a screenshot at each width."""

import os
from pathlib import Path

import pytest
from django.urls import reverse

from tests.api.conftest import ApiClient, key_for, user_with
from tests.conversions.change_sets.test_browser_pages_fit import OVERFLOW_JS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def key_page(django_user_model, conversion_factory):
    """The page of a billing system's key that made a few requests, errors among them."""
    user = user_with(django_user_model, "billing", "view_conversion", "change_conversion_status")
    api_key, token = key_for(user, name="billing system")
    api = ApiClient(token)
    conversion = conversion_factory()
    api.get("/api/v1/conversions", {"status": "pending", "limit": 20})
    api.get("/api/v1/conversions", {"search": "7f3a9c" * 30})
    api.get("/api/v1/conversions/999999")
    api.post(f"/api/v1/conversions/{conversion.pk}/status-changes", {"status": "success"})
    api.post(f"/api/v1/conversions/{conversion.pk}/status-changes", {"status": "maybe"})
    return reverse("admin:api_apikey_change", args=[api_key.pk])


@pytest.mark.parametrize("width", [1440, 390])
def test_a_keys_page_lists_its_requests_and_fits(admin_page, key_page, width):
    page = admin_page
    page.set_viewport_size({"width": width, "height": 900})

    page.goto(key_page)
    page.wait_for_load_state("networkidle")
    folder = os.environ.get("GOKART_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{folder}/api-key-{width}.png", full_page=True)

    rows = page.locator(".gk-api-request")
    assert rows.count() == 5
    assert "422" in rows.nth(0).inner_text() and "invalid_request" in rows.nth(0).inner_text()
    assert "POST" in rows.nth(1).inner_text() and "200" in rows.nth(1).inner_text()
    assert page.evaluate(OVERFLOW_JS) == []
