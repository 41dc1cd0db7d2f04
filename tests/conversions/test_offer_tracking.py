"""An offer's page: the tracking link for a chosen partner, and the postback URL to give the
advertiser with its token masked."""

import html
import re

import pytest
from django.urls import reverse

from conversions.admin import offer_tracking
from conversions.models import Click
from conversions.postback_tokens import postback_token_mask

pytestmark = pytest.mark.django_db


@pytest.fixture
def offer(offer_factory, offer_event_factory):
    offer = offer_factory(
        name="Dragon Quest",
        advertiser="Acme Games",
        landing_url="https://game.example/install?ref={gk_click_id}",
    )
    offer_event_factory(offer=offer, code="install")
    offer_event_factory(offer=offer, code="level_10")
    return offer


def change_page(client, offer, **params):
    response = client.get(reverse("admin:conversions_offer_change", args=[offer.pk]), params)
    assert response.status_code == 200
    return response.text


def shown_click_url(page):
    found = re.search(r'<code class="gk-url" id="gk-click-url">([^<]*)</code>', page)
    assert found, "the page shows no tracking link"
    return html.unescape(found.group(1))


def test_the_link_for_a_chosen_partner_records_a_click(
    admin_client, client, offer, partner_factory
):
    # Given active partners
    partner = partner_factory(name="RewardsApp")
    partner_factory(name="Other")

    # When the admin chooses one (the form is a GET of the page: no script needed)
    page = change_page(admin_client, offer, tracking_partner=partner.pk, tracking_sub="player 7")

    # Then the page shows the absolute click link for that offer and partner
    url = shown_click_url(page)
    assert url == f"http://testserver/click/{offer.pk}/{partner.pk}/?sub=player%207"
    assert f'<option value="{partner.pk}" selected>RewardsApp ({partner.pk})</option>' in page
    # And fetching it records a click of that partner's user and goes to the landing page
    response = client.get(url.removeprefix("http://testserver"))
    click = Click.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"https://game.example/install?ref={click.gk_click_id}"
    assert (click.offer, click.partner, click.sub_id) == (offer, partner, "player 7")


def test_without_a_sub_id_the_link_ends_with_sub_for_the_partner_to_fill(
    admin_client, offer, partner_factory
):
    partner = partner_factory()

    url = shown_click_url(change_page(admin_client, offer, tracking_partner=partner.pk))

    assert url == f"http://testserver/click/{offer.pk}/{partner.pk}/?sub="


def test_only_active_partners_are_offered_and_no_link_before_one_is_chosen(
    admin_client, offer, partner_factory
):
    active = partner_factory(name="Active one")
    inactive = partner_factory(name="Sleeping one", is_active=False)

    page = change_page(admin_client, offer)

    assert f'value="{active.pk}"' in page
    assert "Sleeping one" not in page
    assert 'id="gk-link-row" hidden' in page
    # Asked for by id, an inactive partner gets a reason instead of a link that would 404
    refused = change_page(admin_client, offer, tracking_partner=inactive.pk)
    assert "is not active: its clicks would be refused" in refused
    assert 'id="gk-link-row" hidden' in refused
    assert "There is no partner 999999" in change_page(admin_client, offer, tracking_partner=999999)


def test_the_partner_list_is_bounded(admin_client, offer, partner_factory, monkeypatch):
    monkeypatch.setattr(offer_tracking, "PARTNERS_LISTED", 2)
    partner_factory.create_batch(3)

    page = change_page(admin_client, offer)

    partner_select = page.split('id="gk-link-partner">', 1)[1].split("</select>", 1)[0]
    assert partner_select.count("<option value=") == 1 + 2  # "Choose a partner…" and two
    assert "Only the first 2 active partners by name are listed." in page


def test_the_postback_url_for_the_advertiser_has_the_token_masked(admin_client, offer):
    page = change_page(admin_client, offer)

    masked = postback_token_mask(offer.postback_secret)
    assert (
        "http://testserver/postback/?gk_click_id={gk_click_id}&amp;event={event}"
        f"&amp;txn_id={{txn_id}}&amp;token={masked}"
    ) in page
    assert offer.postback_secret not in page
    assert "<code>install</code>, <code>level_10</code>" in page
    assert "Postback URL for Acme Games" in page
    assert "current: until it is rotated" in page
