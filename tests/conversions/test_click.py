"""``/click/<offer_id>/<partner_id>/``: a user's click is recorded and sent to the landing page."""

from urllib.parse import parse_qs, urlsplit

import pytest

from conversions.models import Click, Conversion

pytestmark = pytest.mark.django_db


@pytest.fixture
def offer(offer_factory, offer_event_factory):
    offer = offer_factory(landing_url="https://game.example/install?ref={gk_click_id}&src=gk")
    offer_event_factory(offer=offer, code="install")
    return offer


@pytest.fixture
def partner(partner_factory):
    return partner_factory()


def click_url(offer, partner, query="?sub=user-42"):
    return f"/click/{offer.pk}/{partner.pk}/{query}"


def assert_error(response, status, *words):
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    for word in words:
        assert word in response.json()["error"]
    assert not Click.objects.exists()


def test_a_click_is_recorded_and_redirected_with_its_id_filled_in(client, offer, partner):
    response = client.get(click_url(offer, partner), REMOTE_ADDR="203.0.113.9")

    assert response.status_code == 302
    click = Click.objects.get()
    assert response["Location"] == (f"https://game.example/install?ref={click.gk_click_id}&src=gk")
    assert (click.offer, click.partner, click.sub_id) == (offer, partner, "user-42")
    assert click.ip_address == "203.0.113.9"


def test_every_click_gets_its_own_id(client, offer, partner):
    first = client.get(click_url(offer, partner))["Location"]
    second = client.get(click_url(offer, partner))["Location"]

    assert first != second
    assert Click.objects.count() == 2


def test_the_redirect_is_not_cached(client, offer, partner):
    response = client.get(click_url(offer, partner))

    assert "no-store" in response["Cache-Control"]


def test_the_sub_is_optional(client, offer, partner):
    response = client.get(click_url(offer, partner, query=""))

    assert response.status_code == 302
    assert Click.objects.get().sub_id == ""


def test_the_url_without_trailing_slash_works(client, offer, partner):
    response = client.get(f"/click/{offer.pk}/{partner.pk}?sub=user-42")

    assert response.status_code == 302
    assert Click.objects.get().sub_id == "user-42"


def test_a_click_then_its_postback_records_the_conversion_for_that_user(client, offer, partner):
    location = client.get(click_url(offer, partner))["Location"]
    gk_click_id = parse_qs(urlsplit(location).query)["ref"][0]

    response = client.get(
        "/postback/",
        {"gk_click_id": gk_click_id, "event": "install", "token": offer.postback_secret},
    )

    assert response.json()["status"] == "success"
    conversion = Conversion.objects.get()
    assert (conversion.click.sub_id, conversion.partner) == ("user-42", partner)


def test_an_unknown_offer_is_a_404(client, partner):
    response = client.get(f"/click/999999/{partner.pk}/")

    assert_error(response, 404, "Unknown offer")


def test_an_inactive_offer_is_a_404(client, offer_factory, partner):
    offer = offer_factory(is_active=False)

    response = client.get(click_url(offer, partner))

    assert_error(response, 404, "not active")


def test_an_unknown_partner_is_a_404(client, offer):
    response = client.get(f"/click/{offer.pk}/999999/")

    assert_error(response, 404, "Unknown partner")


def test_an_inactive_partner_is_a_404(client, offer, partner_factory):
    partner = partner_factory(is_active=False)

    response = client.get(click_url(offer, partner))

    assert_error(response, 404, "not active")


@pytest.mark.parametrize("offer_id", ["abc", "-1", "1.5", "١٢", "9" * 19])
def test_a_non_numeric_offer_id_is_a_400(client, partner, offer_id):
    response = client.get(f"/click/{offer_id}/{partner.pk}/")

    assert_error(response, 400, "Offer id")


def test_a_non_numeric_partner_id_is_a_400(client, offer):
    response = client.get(f"/click/{offer.pk}/x1/")

    assert_error(response, 400, "Partner id")


def test_a_10_kb_sub_is_a_400(client, offer, partner):
    response = client.get(click_url(offer, partner, query="?sub=" + "u" * 10_240))

    assert_error(response, 400, "sub", "longer than")


def test_a_repeated_sub_is_a_400(client, offer, partner):
    response = client.get(click_url(offer, partner, query="?sub=a&sub=b"))

    assert_error(response, 400, "sub", "repeated")


@pytest.mark.parametrize("path", ["/click/", "/click/1/", "/click/1/2/3/"])
def test_a_malformed_click_path_is_a_json_404(client, path):
    response = client.get(path)

    assert_error(response, 404, "/click/<offer_id>/<partner_id>/")


@pytest.mark.parametrize("method", ["post", "head", "put"])
def test_other_methods_get_a_json_405_and_record_nothing(client, offer, partner, method):
    response = getattr(client, method)(click_url(offer, partner))

    assert response.status_code == 405
    assert response["Allow"] == "GET"
    assert not Click.objects.exists()
