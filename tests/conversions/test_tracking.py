"""``/postback/``: what an advertiser's server gets back, and what the back office records."""

import threading
import time
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.db import connection, connections, transaction
from django.test import Client
from django.utils import timezone

from callbacks.models import CallbackDelivery
from conversions.models import Click, Conversion, Offer, Source, Status, StatusChange
from conversions.tracking import conversion_record_from_postback

pytestmark = pytest.mark.django_db

CALLBACK_URL = "http://127.0.0.1:9/callbacks"


@pytest.fixture
def offer(offer_factory, offer_event_factory):
    """An active automatic offer with one event, ``install``."""
    offer = offer_factory()
    offer_event_factory(offer=offer, code="install", payout=Decimal("1.25"), revenue=Decimal("2"))
    return offer


@pytest.fixture
def click(click_factory, offer):
    return click_factory(offer=offer)


def params_for(click, **overrides):
    params = {
        "gk_click_id": click.gk_click_id,
        "event": "install",
        "txn_id": "order-1",
        "token": click.offer.postback_secret,
    }
    params.update(overrides)
    return {name: value for name, value in params.items() if value is not None}


FORM = "application/x-www-form-urlencoded"


def post_form(client, url, params):
    """POST ``params`` as a form-encoded body (multipart is refused)."""
    return client.post(url, urlencode(params), content_type=FORM)


def get_postback(client, click, **overrides):
    return client.get("/postback/", params_for(click, **overrides))


def audit_rows(conversion_id):
    return list(
        StatusChange.objects.filter(conversion_id=conversion_id).values_list(
            "old_status", "new_status", "source", "sequence_number", "reason"
        )
    )


def assert_error(response, status, *words):
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    message = response.json()["error"]
    for word in words:
        assert word in message
    return message


# --- a valid postback -----------------------------------------------------------------------


def test_a_valid_postback_records_a_success_conversion(client, click):
    response = get_postback(client, click)

    assert response.status_code == 200
    body = response.json()
    conversion = Conversion.objects.get()
    assert body == {"conversion_id": conversion.pk, "status": "success", "duplicate": False}
    assert (conversion.click, conversion.offer, conversion.partner) == (
        click,
        click.offer,
        click.partner,
    )
    assert conversion.offer_event.code == "install"
    assert (conversion.payout, conversion.revenue) == (Decimal("1.25"), Decimal("2"))
    assert conversion.transaction_id == "order-1"
    assert (conversion.status_source, conversion.status_version) == (Source.POSTBACK, 1)


def test_the_first_status_is_audited_as_a_change_from_nothing(client, click):
    response = get_postback(client, click)

    assert audit_rows(response.json()["conversion_id"]) == [
        ("", Status.SUCCESS, Source.POSTBACK, 1, "")
    ]


def test_the_first_status_owes_the_partner_a_callback(client, click_factory, offer):
    click = click_factory(offer=offer, partner__callback_url=CALLBACK_URL)

    response = get_postback(client, click)

    delivery = CallbackDelivery.objects.get()
    change = StatusChange.objects.get()
    assert delivery.conversion_id == response.json()["conversion_id"]
    assert (delivery.status_change, delivery.partner, delivery.sequence_number) == (
        change,
        click.partner,
        1,
    )
    assert delivery.state == CallbackDelivery.State.PENDING


def test_a_partner_without_callback_url_is_owed_no_callback(client, click):
    get_postback(client, click)

    assert not CallbackDelivery.objects.exists()


@pytest.mark.parametrize(
    ("mode", "pending_time", "status", "pending_for"),
    [
        (Offer.RewardingMode.AUTOMATIC, None, Status.SUCCESS, None),
        (Offer.RewardingMode.AUTOMATIC, timedelta(hours=2), Status.PENDING, timedelta(hours=2)),
        (Offer.RewardingMode.MANUAL, None, Status.PENDING, None),
    ],
    ids=["automatic", "automatic-with-pending-time", "manual"],
)
def test_the_initial_status_follows_the_rewarding_mode(
    client, click, mode, pending_time, status, pending_for
):
    Offer.objects.filter(pk=click.offer_id).update(rewarding_mode=mode, pending_time=pending_time)
    before = timezone.now()

    response = get_postback(client, click)

    after = timezone.now()
    assert response.json()["status"] == status
    conversion = Conversion.objects.get()
    assert conversion.status == status
    if pending_for is None:
        assert conversion.pending_until is None
    else:
        assert before + pending_for <= conversion.pending_until <= after + pending_for
    assert audit_rows(conversion.pk) == [("", status, Source.POSTBACK, 1, "")]


def test_a_single_event_offer_needs_no_event_parameter(client, click):
    response = get_postback(client, click, event=None)

    assert response.status_code == 200
    assert Conversion.objects.get().offer_event.code == "install"


def test_a_multi_event_offer_records_the_named_event(client, click, offer_event_factory):
    offer_event_factory(offer=click.offer, code="purchase", payout=Decimal("9"))

    response = get_postback(client, click, event="purchase")

    assert response.status_code == 200
    conversion = Conversion.objects.get()
    assert (conversion.offer_event.code, conversion.payout) == ("purchase", Decimal("9"))


def test_each_event_of_a_click_is_its_own_conversion(client, click, offer_event_factory):
    offer_event_factory(offer=click.offer, code="purchase")

    install = get_postback(client, click, event="install", txn_id="a").json()
    purchase = get_postback(client, click, event="purchase", txn_id="b").json()

    assert install["conversion_id"] != purchase["conversion_id"]
    assert Conversion.objects.filter(click=click).count() == 2


def test_a_post_with_a_form_body_records_the_conversion(client, click):
    response = post_form(client, "/postback/", params_for(click))

    assert response.status_code == 200
    assert response.json()["status"] == "success"
    assert Conversion.objects.get().transaction_id == "order-1"


def test_a_post_with_the_parameters_in_the_query_string_records_the_conversion(client, click):
    response = client.post(f"/postback/?{urlencode(params_for(click))}", content_type=FORM)

    assert response.status_code == 200
    assert Conversion.objects.count() == 1


def test_the_url_without_trailing_slash_works_for_post(client, click):
    response = post_form(client, "/postback", params_for(click))

    assert response.status_code == 200
    assert Conversion.objects.count() == 1


def test_the_transaction_id_is_optional(client, click):
    response = get_postback(client, click, txn_id=None)

    assert response.status_code == 200
    assert Conversion.objects.get().transaction_id == ""


# --- business rules: recorded as Rejected with the reason -----------------------------------


def test_a_postback_for_an_inactive_offer_is_recorded_rejected(client, click):
    Offer.objects.filter(pk=click.offer_id).update(is_active=False)

    response = get_postback(client, click)

    assert response.status_code == 200
    assert response.json()["status"] == "rejected"
    conversion = Conversion.objects.get()
    assert (conversion.status, conversion.status_reason) == (Status.REJECTED, "Offer is inactive.")
    assert audit_rows(conversion.pk) == [
        ("", Status.REJECTED, Source.POSTBACK, 1, "Offer is inactive.")
    ]


def test_a_postback_outside_the_attribution_window_is_recorded_rejected(client, click):
    Click.objects.filter(pk=click.pk).update(created_at=timezone.now() - timedelta(days=31))

    response = get_postback(client, click)

    assert response.json()["status"] == "rejected"
    conversion = Conversion.objects.get()
    assert conversion.status == Status.REJECTED
    assert "attribution window" in conversion.status_reason
    assert audit_rows(conversion.pk)[0][:2] == ("", Status.REJECTED)


def test_a_postback_just_inside_the_attribution_window_is_accepted(client, click):
    Click.objects.filter(pk=click.pk).update(created_at=timezone.now() - timedelta(days=29))

    assert get_postback(client, click).json()["status"] == "success"


# --- duplicates: the same answer, one conversion --------------------------------------------


def test_a_repeated_postback_answers_the_same_conversion_once_recorded(client, click):
    first = get_postback(client, click).json()

    second = get_postback(client, click).json()

    assert second == {**first, "duplicate": True}
    assert Conversion.objects.count() == 1
    assert StatusChange.objects.count() == 1


def test_a_repeat_for_the_same_click_and_event_with_another_txn_is_a_duplicate(client, click):
    first = get_postback(client, click, txn_id="order-1").json()

    second = get_postback(client, click, txn_id="order-2").json()

    assert second == {**first, "duplicate": True}
    assert Conversion.objects.count() == 1


def test_a_repeat_of_the_transaction_id_on_another_click_is_a_duplicate(
    client, click, click_factory
):
    other_click = click_factory(offer=click.offer)
    first = get_postback(client, click, txn_id="order-7").json()

    second = get_postback(client, other_click, txn_id="order-7").json()

    assert second == {**first, "duplicate": True}
    assert not Conversion.objects.filter(click=other_click).exists()


def test_the_same_transaction_id_on_another_offer_is_not_a_duplicate(
    client, click, click_factory, offer_event_factory
):
    other_offer_event = offer_event_factory(code="install")
    other_click = click_factory(offer=other_offer_event.offer)
    get_postback(client, click, txn_id="order-7")

    response = get_postback(client, other_click, txn_id="order-7")

    assert response.json()["duplicate"] is False
    assert Conversion.objects.count() == 2


def test_a_duplicate_answers_the_status_the_conversion_has_now(client, click):
    from conversions.services import conversion_status_set

    first = get_postback(client, click).json()
    conversion_status_set(
        conversion_ids=[first["conversion_id"]], status=Status.REJECTED, source=Source.ADMIN
    )

    again = get_postback(client, click).json()

    assert again == {
        "conversion_id": first["conversion_id"],
        "status": "rejected",
        "duplicate": True,
    }


# --- requests that cannot be attributed: 4xx, JSON error, nothing recorded -------------------


@pytest.mark.parametrize("name", ["gk_click_id", "token"])
def test_a_missing_required_parameter_is_a_400(client, click, name):
    response = get_postback(client, click, **{name: None})

    assert_error(response, 400, "Missing", name)
    assert not Conversion.objects.exists()


@pytest.mark.parametrize("name", ["gk_click_id", "token"])
def test_an_empty_required_parameter_is_a_400(client, click, name):
    response = get_postback(client, click, **{name: ""})

    assert_error(response, 400, "Missing", name)


@pytest.mark.parametrize("name", ["gk_click_id", "event", "txn_id", "token"])
def test_a_repeated_parameter_is_a_400(client, click, name):
    query = urlencode(params_for(click)) + f"&{urlencode({name: 'again'})}"

    response = client.get(f"/postback/?{query}")

    assert_error(response, 400, "repeated", name)
    assert not Conversion.objects.exists()


def test_a_post_with_a_json_body_is_told_where_parameters_go(client, click):
    response = client.post("/postback/", params_for(click), content_type="application/json")

    assert_error(response, 400, "Missing parameter 'gk_click_id'", "form-encoded body")
    assert not Conversion.objects.exists()


def test_a_post_body_over_the_body_limit_is_a_json_413(client, click):
    response = post_form(client, "/postback/", {**params_for(click), "padding": "x" * 20_000})

    assert_error(response, 413, "larger than 16,384 bytes")
    assert not Conversion.objects.exists()


def test_a_parameter_in_both_query_string_and_form_body_is_a_400(client, click):
    response = post_form(
        client,
        f"/postback/?{urlencode({'txn_id': 'order-1'})}",
        params_for(click, txn_id="order-2"),
    )

    assert_error(response, 400, "repeated", "txn_id")
    assert not Conversion.objects.exists()


@pytest.mark.parametrize("name", ["gk_click_id", "event", "txn_id", "token"])
def test_a_10_kb_parameter_is_a_400(client, click, name):
    response = get_postback(client, click, **{name: "x" * 10_240})

    assert_error(response, 400, name, "longer than")
    assert not Conversion.objects.exists()


@pytest.mark.parametrize("value", ["not a click id", "../../etc", "é" * 8, "x" * 65])
def test_a_malformed_gk_click_id_is_a_400(client, click, value):
    response = get_postback(client, click, gk_click_id=value)

    assert_error(response, 400, "gk_click_id")


def test_a_control_character_in_a_parameter_is_a_400(client, click):
    response = get_postback(client, click, txn_id="order\x00-1")

    assert_error(response, 400, "txn_id", "control characters")
    assert not Conversion.objects.exists()


def test_a_request_with_too_many_parameters_is_a_json_400(client, click):
    query = urlencode(params_for(click)) + "".join(f"&extra{n}=1" for n in range(1200))

    response = client.get(f"/postback/?{query}")

    assert_error(response, 400, "Unreadable request")
    assert not Conversion.objects.exists()


def test_a_wrong_token_is_a_403(client, click):
    response = get_postback(client, click, token="not-the-secret")

    assert_error(response, 403, "Invalid token")
    assert not Conversion.objects.exists()


def test_another_offers_token_is_a_403(client, click, offer_factory):
    response = get_postback(client, click, token=offer_factory().postback_secret)

    assert_error(response, 403, "Invalid token")


def test_an_unknown_click_is_a_404(client, click):
    response = get_postback(client, click, gk_click_id="0123456789abcdef0123456789abcdef")

    assert_error(response, 404, "Unknown gk_click_id")
    assert not Conversion.objects.exists()


def test_an_unknown_event_is_a_400(client, click):
    response = get_postback(client, click, event="level_99")

    assert_error(response, 400, "Unknown event", "level_99")
    assert not Conversion.objects.exists()


def test_an_event_of_another_offer_is_a_400(client, click, offer_event_factory):
    offer_event_factory(code="purchase")

    response = get_postback(client, click, event="purchase")

    assert_error(response, 400, "Unknown event")


def test_a_missing_event_on_a_multi_event_offer_is_a_400(client, click, offer_event_factory):
    offer_event_factory(offer=click.offer, code="purchase")

    response = get_postback(client, click, event=None)

    assert_error(response, 400, "event", "several events")
    assert not Conversion.objects.exists()


def test_a_bad_token_is_refused_before_the_event_is_checked(client, click):
    response = get_postback(client, click, token="wrong", event="level_99")

    assert_error(response, 403, "Invalid token")


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_other_methods_get_a_json_405(client, click, method):
    response = getattr(client, method)(f"/postback/?{urlencode(params_for(click))}")

    assert_error(response, 405, "GET or POST")
    assert response["Allow"] == "GET, POST"
    assert not Conversion.objects.exists()


# --- concurrency ----------------------------------------------------------------------------


def backend_waiting_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_copies_of_a_postback_record_one_conversion(offer_event_factory, click_factory):
    """Given one copy of a postback recorded but not yet committed, a second copy waits for it,
    then answers the same conversion as a duplicate: one conversion, one audit row."""
    offer_event = offer_event_factory(code="install")
    click = click_factory(offer=offer_event.offer)
    first_recorded = threading.Event()
    release_first = threading.Event()
    results, errors = {}, []

    def first_copy():
        try:
            with transaction.atomic():
                results["first"] = conversion_record_from_postback(
                    gk_click_id=click.gk_click_id,
                    event_code="install",
                    transaction_id="order-1",
                    token=click.offer.postback_secret,
                )
                first_recorded.set()
                release_first.wait(10)
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            connections.close_all()

    def second_copy():
        try:
            first_recorded.wait(10)
            results["second"] = get_postback(Client(), click).json()
        except Exception as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first_copy), threading.Thread(target=second_copy)]
    for thread in threads:
        thread.start()
    assert first_recorded.wait(10)
    deadline = time.monotonic() + 10
    while not backend_waiting_on_a_lock():  # the second copy blocks on the unique index
        assert time.monotonic() < deadline, "the second copy never waited for the first"
        time.sleep(0.01)
    release_first.set()
    for thread in threads:
        thread.join(10)

    assert errors == []
    first = results["first"]
    assert results["second"] == {
        "conversion_id": first.conversion_id,
        "status": "success",
        "duplicate": True,
    }
    assert first.duplicate is False
    assert Conversion.objects.count() == 1
    assert audit_rows(first.conversion_id) == [("", Status.SUCCESS, Source.POSTBACK, 1, "")]


@pytest.mark.django_db(transaction=True)
def test_simultaneous_copies_of_a_postback_record_one_conversion(
    offer_event_factory, click_factory
):
    offer_event = offer_event_factory(code="install")
    click = click_factory(offer=offer_event.offer)
    start = threading.Barrier(4)
    answers, errors = [], []

    def send():
        try:
            client = Client()
            start.wait(10)
            answers.append(get_postback(client, click).json())
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    assert errors == []
    conversion = Conversion.objects.get()
    assert sorted(answer["duplicate"] for answer in answers) == [False, True, True, True]
    assert {answer["conversion_id"] for answer in answers} == {conversion.pk}
    assert StatusChange.objects.count() == 1
