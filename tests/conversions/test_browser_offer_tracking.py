"""In a real browser: an offer's tracking link follows the partner chosen, without a reload,
records a click when fetched, the rotated postback token is shown once, and a test conversion
is recorded from the page and rejected from its own."""

from decimal import Decimal
from pathlib import Path

import pytest
from django.urls import reverse

from conversions.models import Click, Conversion, Offer, Status
from gokart.encryption import token_digest
from tests.audit import assert_audit_intact

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_tracking_link_follows_the_form_and_the_new_token_is_shown_once(
    admin_page, offer_factory, offer_event_factory, partner_factory
):
    # Given an offer and two active partners
    offer = offer_factory(landing_url="https://game.example/?c={gk_click_id}")
    offer_event_factory(offer=offer, code="install")
    partner_factory(name="Other")
    partner = partner_factory(name="RewardsApp")
    page = admin_page
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(reverse("admin:conversions_offer_change", args=[offer.pk]))
    assert page.locator("#gk-link-row").is_hidden()
    assert page.locator("#gk-link-show").is_hidden()  # the script updates the link itself

    # When the admin chooses a partner and types a sub id
    page.select_option("#gk-link-partner", str(partner.pk))
    page.fill("#gk-link-sub", "player 7")

    # Then the link is shown at once, as the server would write it, with a Copy button
    url = page.inner_text("#gk-click-url")
    base = page.evaluate("location.origin")
    assert url == f"{base}/click/{offer.pk}/{partner.pk}/?sub=player%207"
    assert page.locator("#gk-link-row button.gk-copy").is_visible()
    # And fetching it records the click
    response = page.request.get(url, max_redirects=0)
    assert response.status == 302
    assert Click.objects.get().sub_id == "player 7"

    # When the admin rotates the token
    old = offer.postback_secret
    page.click("a.gk-rotate-token")
    page.click("input[type=submit][value='Yes, rotate the token']")
    page.wait_for_url("**/postback-token/")

    # Then the new token is shown once, inside the postback URL, and masked after a reload
    new = page.inner_text("#gk-postback-url").rsplit("token=", 1)[1]
    assert new != old
    assert Offer.objects.get(pk=offer.pk).postback_secret == token_digest(new)
    page.reload()
    assert new not in page.content()
    assert "already shown" in page.inner_text("#content")


def test_an_offers_events_fit_a_phone(admin_page, offer_factory, offer_event_factory):
    # Given an offer with two events, on a 390-pixel screen
    offer = offer_factory()
    offer_event_factory(offer=offer, code="install")
    offer_event_factory(offer=offer, code="first_purchase_over_20")
    page = admin_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(reverse("admin:conversions_offer_change", args=[offer.pk]))

    # Then every field of every event lies inside the screen, under its name
    for field in ("code", "name", "payout", "revenue"):
        for row in range(2):
            box = page.locator(f"#id_events-{row}-{field}").bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, field
        label = page.evaluate(
            "f => getComputedStyle(document.querySelector(`#events-0 td.field-${f}`), '::before')"
            ".content",
            field,
        )
        assert label.strip('"').lower() == field
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path="/tmp/gokart_offer_events_390.png", full_page=True)


def test_a_test_conversion_recorded_and_rejected_in_the_browser(
    admin_page, live_server, settings, offer_factory, offer_event_factory, partner_factory
):
    # Given an automatic offer, a partner, and the tool reaching this live server
    settings.TRACKING_PUBLIC_URL = live_server.url
    settings.CALLBACK_ALLOW_LOOPBACK = True
    offer = offer_factory(name="Dragon Quest install")
    offer_event_factory(offer=offer, code="install", name="Install", payout=Decimal("2.50"))
    partner = partner_factory(name="RewardsApp")
    page = admin_page
    shots = Path("/tmp")
    for width in (1440, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(
            reverse("admin:conversions_offer_change", args=[offer.pk]) + "#gk-test-conversion"
        )
        form = page.locator("#gk-test-conversion")
        assert form.is_visible()
        # The form fits the screen: nothing wider than the page
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        form.screenshot(path=shots / f"gokart_offer_test_conversion_{width}.png")

    # When the admin records a test conversion for the partner
    page.select_option("#gk-test-partner", str(partner.pk))
    page.fill("#gk-test-member", "qa 7")
    page.click("#gk-test-record")

    # Then its page opens, marked as a test, with its one-click rejection
    page.wait_for_selector("#gk-test-mark")
    conversion = Conversion.objects.get()
    assert conversion.click.is_test and conversion.status == Status.SUCCESS
    assert f"Test conversion {conversion.pk} recorded" in page.inner_text(".messagelist")
    page.screenshot(path=shots / "gokart_conversion_test_390.png", full_page=False)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.reload()
    page.screenshot(path=shots / "gokart_conversion_test_1440.png", full_page=False)

    # When the admin rejects it with one click
    page.click("#gk-test-reject")

    # Then it is Rejected with the tool's reason, and the button is gone
    page.wait_for_selector(".messagelist")
    conversion.refresh_from_db()
    assert conversion.status == Status.REJECTED
    assert conversion.status_reason == "Test conversion, rejected after the test."
    page.goto(reverse("admin:conversions_conversion_change", args=[conversion.pk]))
    assert page.locator("#gk-test-reject").count() == 0

    # And the overview names it, at both widths
    for width in (1440, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto("/admin/")
        assert "1 test conversion recorded" in page.inner_text("#overview-tests")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.locator("#overview-windows").screenshot(
            path=shots / f"gokart_overview_tests_{width}.png"
        )
    assert_audit_intact()
