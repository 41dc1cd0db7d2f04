"""``/postback/`` with GoKart's advertiser parameters: ``cnv_event_id`` and ``cnv_conversion_id``
(aliases of ``event`` and ``txn_id``), ``cnv_amount``, ``cnv_user_id``,
``cnv_conversion_ip_address``, ``cnv_sub_1`` … ``5``, and ``cnv_email`` (personal data)."""

import csv
import io
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.urls import reverse

from conversions.models import Conversion, StatusChange
from gokart.log_redaction import query_tokens_mask

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"
EMAIL = "jo.smith@example.com"


@pytest.fixture
def offer(offer_factory, offer_event_factory):
    offer = offer_factory(currency="EUR")
    offer_event_factory(offer=offer, code="install")
    return offer


@pytest.fixture
def click(click_factory, offer):
    return click_factory(offer=offer)


def gokart_params(click, **overrides):
    params = {
        "gk_click_id": click.gk_click_id,
        "cnv_event_id": "install",
        "cnv_conversion_id": "order-77",
        "cnv_amount": "49.99",
        "cnv_user_id": "adv-user 9",
        "cnv_conversion_ip_address": "2001:db8::42",
        **{f"cnv_sub_{n}": f"sub {n} &é" for n in range(1, 6)},
        "token": click.offer.postback_secret,
    }
    params.update(overrides)
    return {name: value for name, value in params.items() if value is not None}


def postback(client, click, **overrides):
    return client.get("/postback/", gokart_params(click, **overrides))


def assert_refused(response, *words):
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    message = response.json()["error"]
    for word in words:
        assert word in message
    assert not Conversion.objects.exists()
    assert not StatusChange.objects.exists()
    return message


def test_gokart_parameters_are_recorded_on_the_conversion(client, click):
    response = postback(client, click)

    assert response.status_code == 200
    conversion = Conversion.objects.get()
    assert response.json() == {
        "conversion_id": conversion.pk,
        "status": "success",
        "duplicate": False,
    }
    assert conversion.offer_event.code == "install"
    assert conversion.transaction_id == "order-77"
    assert conversion.cnv_amount == Decimal("49.99")
    assert conversion.cnv_user_id == "adv-user 9"
    assert conversion.cnv_conversion_ip_address == "2001:db8::42"
    assert [getattr(conversion, f"cnv_sub_{n}") for n in range(1, 6)] == [
        f"sub {n} &é" for n in range(1, 6)
    ]
    assert conversion.cnv_email == ""


def test_a_form_body_carries_them_too(client, click):
    body = urlencode(gokart_params(click, cnv_amount="0.5"))

    response = client.post("/postback/", body, content_type=FORM)

    assert response.status_code == 200
    assert Conversion.objects.get().cnv_amount == Decimal("0.5")


def test_a_plain_postback_leaves_them_empty(client, click):
    params = {"gk_click_id": click.gk_click_id, "token": click.offer.postback_secret}

    assert client.get("/postback/", params).status_code == 200

    conversion = Conversion.objects.get()
    assert (conversion.cnv_amount, conversion.cnv_conversion_ip_address) == (None, None)
    assert (conversion.cnv_user_id, conversion.cnv_sub_5) == ("", "")


def test_the_conversion_id_deduplicates_like_txn_id(client, click_factory, offer):
    other_click = click_factory(offer=offer)
    first = postback(client, click_factory(offer=offer))

    again = client.get(
        "/postback/",
        {
            "gk_click_id": other_click.gk_click_id,
            "txn_id": "order-77",
            "token": offer.postback_secret,
        },
    )

    assert again.json() == {**first.json(), "duplicate": True}
    assert Conversion.objects.count() == 1


@pytest.mark.parametrize(
    ("name", "alias"), [("cnv_event_id", "event"), ("cnv_conversion_id", "txn_id")]
)
def test_a_name_beside_its_alias_is_refused(client, click, name, alias):
    response = postback(client, click, **{alias: gokart_params(click)[name]})

    assert_refused(response, f"'{name}' and '{alias}' are both given", "send one")


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("1e999", ["'cnv_amount'", "scientific notation", "49.99"]),
        ("-5", ["'cnv_amount'", "negative"]),
        ("NaN", ["'cnv_amount'", "not a number"]),
        ("inf", ["'cnv_amount'", "not a number"]),
        ("1,5", ["'cnv_amount'", "comma"]),
        ("123456789", ["'cnv_amount'", "digits before the decimal point", "at most 8"]),
        ("1.23456", ["'cnv_amount'", "at most 4"]),
        ("12 EUR", ["'cnv_amount'", "currency"]),
    ],
)
def test_an_amount_that_is_not_a_sale_amount_is_refused(client, click, amount, words):
    assert_refused(postback(client, click, cnv_amount=amount), *words)


@pytest.mark.parametrize("address", ["999.1.1.1", "fe80::1%eth0", "localhost", "1.2.3"])
def test_an_ip_address_that_is_not_one_is_refused(client, click, address):
    response = postback(client, click, cnv_conversion_ip_address=address)

    assert_refused(response, "'cnv_conversion_ip_address'", "is not an IP address")


@pytest.mark.parametrize("name", ["cnv_sub_6", "cnv_sub_0", "cnv_sub_"])
def test_a_cnv_sub_outside_1_to_5_is_refused(client, click, name):
    response = postback(client, click, **{name: "x"})

    assert_refused(response, f"Unknown parameter {name!r}", "cnv_sub_1 to cnv_sub_5")


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"cnv_user_id": "u" * 256}, ["'cnv_user_id'", "longer than 255"]),
        ({"cnv_sub_2": "a\tb"}, ["'cnv_sub_2'", "control characters"]),
    ],
)
def test_a_bad_text_value_is_refused(client, click, overrides, words):
    assert_refused(postback(client, click, **overrides), *words)


def test_a_repeated_cnv_amount_is_refused(client, click):
    query = urlencode(gokart_params(click)) + "&cnv_amount=1"

    assert_refused(client.get(f"/postback/?{query}"), "'cnv_amount' is repeated")


# --- cnv_email: personal data ----------------------------------------------------------------


def test_an_email_is_dropped_unless_the_setting_keeps_it(client, click):
    # Even a malformed one: a value that is dropped is not read
    response = postback(client, click, cnv_email="not an email")

    assert response.status_code == 200
    assert Conversion.objects.get().cnv_email == ""


def test_a_kept_email_is_masked_and_never_exported(client, admin_client, click, settings):
    # Given the setting that keeps it
    settings.TRACKING_KEEP_CNV_EMAIL = True

    # When a postback carries one
    response = postback(client, click, cnv_email=EMAIL)

    # Then it is kept
    conversion = Conversion.objects.get(pk=response.json()["conversion_id"])
    assert conversion.cnv_email == EMAIL
    # And the conversion's page shows it masked, beside the sale amount and the other values
    page = admin_client.get(
        reverse("admin:conversions_conversion_change", args=[conversion.pk])
    ).content.decode()
    assert EMAIL not in page and "jo.smith" not in page
    assert "j…@e….com" in page
    assert "49.99 EUR" in page
    assert "cnv_user_id: adv-user 9" in page
    assert "cnv_conversion_ip_address: 2001:db8::42" in page
    # And the export has no trace of it
    export = admin_client.post(
        reverse("admin:conversions_conversion_export"), {"format": "0", "resource": "0"}
    )
    text = b"".join(export.streaming_content).decode("utf-8-sig")
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert EMAIL not in text and "jo.smith" not in text
    assert row["EventId"] == str(conversion.pk)


def test_a_kept_email_must_be_one(client, click, settings):
    settings.TRACKING_KEEP_CNV_EMAIL = True

    message = assert_refused(postback(client, click, cnv_email="jo@"), "'cnv_email'")

    assert "jo@" not in message


def test_an_email_is_masked_in_logged_urls():
    line = f"GET /postback/?gk_click_id=abc&cnv_email={EMAIL}&token=secret HTTP/1.1"

    assert query_tokens_mask(line) == (
        "GET /postback/?gk_click_id=abc&cnv_email=[masked]&token=[masked] HTTP/1.1"
    )
