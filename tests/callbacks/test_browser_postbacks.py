"""In a real browser: an admin sets a partner's global postback and static header, sees the
header's value once, the postback previewed for a recent conversion, and sends a test postback
that a real receiver gets (Chromium and the receiver real)."""

from urllib.parse import parse_qs, urlsplit

import pytest

from callbacks.models import CallbackDelivery, Partner
from tests.callbacks.test_browser_partners import screenshots

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_sets_a_postback_and_a_header_previews_and_tests_it(
    admin_page, receiver, partner_factory, conversion_factory
):
    # Given a partner with a recent conversion
    partner = partner_factory(name="Reward Wall", callback_url=receiver.url)
    conversion = conversion_factory(click__partner=partner, click__sub_id="user 42&x")
    base = receiver.url.rsplit("/callbacks", 1)[0]
    page = admin_page

    # When an admin sets a global postback and a static header on its page
    page.goto(f"/admin/callbacks/partner/{partner.pk}/change/")
    page.fill("#id_postback_url", f"{base}/pb?click={{gk_click_id}}&sub={{sub}}&st={{status}}")
    page.fill("#id_static_header_name", "X-Api-Token")
    page.fill("#id_static_header_secret", "tok-4f9a1c2e8b7d")
    page.get_by_role("button", name="Save and continue editing").click()

    # Then the page shows the header's value this once, and the postback filled
    assert page.locator(".gk-static-header-value").inner_text() == "tok-4f9a1c2e8b7d"
    preview = page.locator(".gk-postback-preview").first.inner_text()
    assert preview == (
        f"{base}/pb?click={conversion.click.gk_click_id}&sub=user%2042%26x&st=Pending"
    )
    screenshots(page, "partner_postbacks")

    # And the test button sends it, with example values, and says what was answered
    page.get_by_role("button", name="Send a test postback").click()
    [test] = receiver.wait_for(1)
    assert parse_qs(urlsplit(test.path).query)["st"] == ["Success"]
    assert test.headers["x-api-token"] == "tok-4f9a1c2e8b7d"
    # (the page that says so loads after the receiver answered: wait for it)
    page.locator("ul.messagelist", has_text="HTTP 200").wait_for()
    # And the value is masked from now on; nothing was written to the outbox
    assert page.locator(".gk-static-header-value").count() == 0
    assert "X-Api-Token: to…7d" in page.content()
    screenshots(page, "partner_postbacks_tested")
    assert Partner.objects.get().static_header_value == "tok-4f9a1c2e8b7d"
    assert not CallbackDelivery.objects.exists()
