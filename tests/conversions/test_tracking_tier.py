"""The tracking tier: ``/click/`` and ``/postback/`` cost one database round trip each, and
are served by an application of their own (``gokart.tracking``) with the same answers."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test import override_settings

from callbacks.models import CallbackDelivery
from conversions.models import Click, Conversion, ConversionTally, StatusChange
from gokart.tracking import settings as tracking_settings
from tests.conversions.test_tracking import params_for

pytestmark = pytest.mark.django_db

CALLBACK_URL = "http://127.0.0.1:9/callbacks"

tracking_tier = override_settings(
    ROOT_URLCONF=tracking_settings.ROOT_URLCONF, MIDDLEWARE=tracking_settings.MIDDLEWARE
)


@pytest.fixture
def click(click_factory, offer_factory, offer_event_factory, partner_factory):
    """A click on an automatic offer with one event, ``install``, of a partner owed callbacks."""
    offer = offer_factory()
    offer_event_factory(offer=offer, code="install", payout=Decimal("1.25"), revenue=Decimal("2"))
    return click_factory(offer=offer, partner=partner_factory(callback_url=CALLBACK_URL))


class RoundTrips:
    """Every statement sent to PostgreSQL while it is active (savepoints and transactions
    included: they go through the same cursor)."""

    def __init__(self):
        self.statements = []

    def __call__(self, execute, sql, params, many, context):
        self.statements.append(sql)
        return execute(sql, params, many, context)

    def __enter__(self):
        self._wrapper = connection.execute_wrapper(self)
        self._wrapper.__enter__()
        return self

    def __exit__(self, *exc):
        self._wrapper.__exit__(*exc)


# --- one round trip -----------------------------------------------------------------------------


@pytest.mark.parametrize("tier", ["admin application", "tracking tier"])
def test_a_postback_is_recorded_in_one_round_trip(client, click, tier):
    with tracking_tier if tier == "tracking tier" else override_settings(), RoundTrips() as sent:
        response = client.get("/postback/", params_for(click))

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success" and body["duplicate"] is False
    assert len(sent.statements) == 1, sent.statements
    conversion = Conversion.objects.get(pk=body["conversion_id"])
    assert (conversion.payout, conversion.revenue) == (Decimal("1.25"), Decimal("2"))
    assert StatusChange.objects.filter(conversion=conversion, sequence_number=1).count() == 1
    assert CallbackDelivery.objects.filter(conversion_id=conversion.pk).count() == 1
    tally = ConversionTally.objects.filter(offer_id=click.offer_id, status="success")
    assert sum(row.conversions for row in tally) == 1


def test_a_duplicate_postback_is_answered_in_one_round_trip(client, click):
    first = client.get("/postback/", params_for(click)).json()

    with RoundTrips() as sent:
        again = client.get("/postback/", params_for(click))

    assert again.json() == {**first, "duplicate": True}
    assert len(sent.statements) == 1, sent.statements
    assert Conversion.objects.count() == 1
    assert StatusChange.objects.count() == 1
    assert CallbackDelivery.objects.count() == 1


def test_a_duplicate_transaction_id_on_another_event_is_found_in_the_same_round_trip(
    client, click, offer_event_factory
):
    offer_event_factory(offer=click.offer, code="purchase")
    first = client.get("/postback/", params_for(click, txn_id="order-9")).json()

    with RoundTrips() as sent:
        again = client.get("/postback/", params_for(click, event="purchase", txn_id="order-9"))

    assert again.json() == {**first, "duplicate": True}
    assert len(sent.statements) == 1


@pytest.mark.parametrize(
    ("overrides", "status", "error"),
    [
        ({"gk_click_id": "unknown"}, 404, "Unknown gk_click_id."),
        ({"token": "wrong"}, 403, "Invalid token."),
        ({"event": "level_10"}, 400, "Unknown event 'level_10' for this offer."),
    ],
)
def test_a_refused_postback_costs_one_round_trip_and_records_nothing(
    client, click, overrides, status, error
):
    with RoundTrips() as sent:
        response = client.get("/postback/", params_for(click, **overrides))

    assert (response.status_code, response.json()) == (status, {"error": error})
    assert len(sent.statements) == 1
    assert not Conversion.objects.exists()
    assert not StatusChange.objects.exists()


def test_a_postback_without_event_on_a_multi_event_offer_is_refused(
    client, click, offer_event_factory
):
    offer_event_factory(offer=click.offer, code="purchase")

    response = client.get("/postback/", params_for(click, event=None))

    assert response.status_code == 400
    assert response.json() == {"error": "Missing parameter 'event': this offer has several events."}
    assert not Conversion.objects.exists()


def test_bad_input_is_refused_before_the_database_is_touched(client, click):
    with RoundTrips() as sent:
        response = client.get("/postback/", params_for(click, token=None))

    assert response.status_code == 400
    assert response.json() == {"error": "Missing parameter 'token'."}
    assert sent.statements == []


@pytest.mark.parametrize("tier", ["admin application", "tracking tier"])
def test_a_click_is_recorded_in_one_round_trip(client, click, tier):
    with tracking_tier if tier == "tracking tier" else override_settings(), RoundTrips() as sent:
        response = client.get(f"/click/{click.offer_id}/{click.partner_id}/", {"sub": "user-7"})

    assert response.status_code == 302
    assert len(sent.statements) == 1, sent.statements
    recorded = Click.objects.get(sub_id="user-7")
    assert response["Location"] == (
        f"https://advertiser.example/landing?click={recorded.gk_click_id}"
    )
    assert (recorded.offer_id, recorded.partner_id) == (click.offer_id, click.partner_id)


def test_a_click_for_an_inactive_partner_is_refused_in_one_round_trip(client, click):
    click.partner.is_active = False
    click.partner.save()

    with RoundTrips() as sent:
        response = client.get(f"/click/{click.offer_id}/{click.partner_id}/")

    assert response.status_code == 404
    assert response.json() == {"error": f"Partner {click.partner_id} is not active."}
    assert len(sent.statements) == 1
    assert Click.objects.count() == 1


# --- the tracking tier's own application ---------------------------------------------------------


@tracking_tier
def test_the_tracking_tier_serves_only_the_tracking_endpoints(client, click):
    postback = client.get("/postback/", params_for(click))
    admin = client.get("/admin/")

    assert postback.status_code == 200
    # None of the admin's middleware ran: no session, no CSP, no frame options.
    assert "Set-Cookie" not in postback
    assert "Content-Security-Policy" not in postback
    assert "X-Frame-Options" not in postback
    assert postback["X-Content-Type-Options"] == "nosniff"  # SecurityMiddleware still does
    assert admin.status_code == 404


def test_the_tracking_tiers_connections_are_pooled_and_prepared():
    database = tracking_settings.DATABASES["default"]

    assert database["CONN_MAX_AGE"] == 0  # Django refuses a pool with persistent connections
    assert database["OPTIONS"]["pool"]["max_size"] >= 1
    assert database["OPTIONS"]["server_side_binding"] is True
    assert database["OPTIONS"]["prepare_threshold"] == 1
