"""``/click/`` with GoKart's parameters: ``pub_member_id`` (``sub`` its alias), ``pub_click_id``
and ``pub_sub_1`` … ``pub_sub_15`` stored on the click, and the landing URL's macros."""

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from conversions.models import Click

pytestmark = pytest.mark.django_db

AWKWARD = "a&b=c #d e/f?é 漢"
LANDING = (
    "https://game.example/go?click={gk_click_id}&offer={gk_offer_id}&name={gk_offer_name}"
    "&member={pub_member_id}&pclick={pub_click_id}&own={their_macro}"
)


@pytest.fixture
def offer(offer_factory, offer_event_factory):
    offer = offer_factory(name=f"Spring {AWKWARD}", landing_url=LANDING)
    offer_event_factory(offer=offer, code="install")
    return offer


@pytest.fixture
def partner(partner_factory):
    return partner_factory()


def click_with(client, offer, partner, params):
    return client.get(f"/click/{offer.pk}/{partner.pk}/?{urlencode(params)}")


def assert_refused(response, *words):
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    message = response.json()["error"]
    for word in words:
        assert word in message
    assert not Click.objects.exists()
    return message


def test_gokart_click_parameters_are_stored_and_fill_the_landing_url(client, offer, partner):
    # Given a click carrying every GoKart parameter, each value needing encoding
    params = {
        "pub_member_id": f"member {AWKWARD}",
        "pub_click_id": f"pc {AWKWARD}",
        **{f"pub_sub_{n}": f"s{n} {AWKWARD}" for n in range(1, 16)},
    }

    # When it is clicked
    response = click_with(client, offer, partner, params)

    # Then it is stored whole
    assert response.status_code == 302
    click = Click.objects.get()
    assert click.sub_id == f"member {AWKWARD}"
    assert click.pub_click_id == f"pc {AWKWARD}"
    assert [getattr(click, f"pub_sub_{n}") for n in range(1, 16)] == [
        f"s{n} {AWKWARD}" for n in range(1, 16)
    ]
    # And each macro of the landing URL is filled, URL-encoded, none breaking out of its place
    location = response["Location"]
    assert "#" not in location and " " not in location
    query = parse_qs(urlsplit(location).query)
    assert {name: values[0] for name, values in query.items()} == {
        "click": click.gk_click_id,
        "offer": str(offer.pk),
        "name": f"Spring {AWKWARD}",
        "member": f"member {AWKWARD}",
        "pclick": f"pc {AWKWARD}",
        "own": "{their_macro}",
    }


def test_sub_is_still_the_member_id(client, offer, partner):
    response = click_with(client, offer, partner, {"sub": "user-42"})

    assert response.status_code == 302
    assert Click.objects.get().sub_id == "user-42"
    assert "member=user-42&pclick=&" in response["Location"]


def test_a_click_without_gokart_parameters_stores_empty_values(client, offer, partner):
    click_with(client, offer, partner, {})

    click = Click.objects.get()
    assert (click.sub_id, click.pub_click_id, click.pub_sub_15) == ("", "", "")


def test_pub_member_id_beside_its_alias_sub_is_refused(client, offer, partner):
    response = click_with(client, offer, partner, {"pub_member_id": "a", "sub": "a"})

    assert_refused(response, "'pub_member_id' and 'sub' are both given", "send one")


@pytest.mark.parametrize("name", ["pub_sub_16", "pub_sub_0", "pub_sub_01", "pub_sub_x"])
def test_a_pub_sub_outside_1_to_15_is_refused(client, offer, partner, name):
    response = click_with(client, offer, partner, {name: "v"})

    assert_refused(response, f"Unknown parameter {name!r}", "pub_sub_1 to pub_sub_15")


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"pub_sub_7": "v" * 256}, ["'pub_sub_7'", "longer than 255"]),
        ({"pub_click_id": "a\nb"}, ["'pub_click_id'", "control characters"]),
        ({"pub_member_id": "x\x00"}, ["'pub_member_id'", "control characters"]),
    ],
)
def test_a_bad_value_is_refused_and_stores_nothing(client, offer, partner, params, words):
    assert_refused(click_with(client, offer, partner, params), *words)


def test_a_repeated_pub_sub_is_refused(client, offer, partner):
    response = client.get(f"/click/{offer.pk}/{partner.pk}/?pub_sub_2=a&pub_sub_2=b")

    assert_refused(response, "'pub_sub_2' is repeated")


def test_values_are_bounded_by_the_column_whatever_the_setting(client, offer, partner, settings):
    settings.TRACKING_MAX_PARAM_LENGTH = 10_000

    response = click_with(client, offer, partner, {"pub_click_id": "c" * 300})

    assert_refused(response, "longer than 255")


def test_other_parameters_are_ignored_as_before(client, offer, partner):
    response = click_with(
        client, offer, partner, {"utm_source": "x", "pub_gender": "f", "pub_member_id": "m"}
    )

    assert response.status_code == 302
    assert Click.objects.get().sub_id == "m"
