"""Conversion Management counts a change's JSON callback and templated postbacks together: the
"Callback sent" column and filter show the least advanced of them, and a conversion's history
names each one."""

import pytest
from django.urls import reverse

from callbacks.models import CallbackDelivery
from conversions.models import Source, Status
from conversions.services import conversion_status_set
from tests.callbacks.test_admin_callback_sent import CHANGELIST, callback_column, listed_ids

pytestmark = pytest.mark.django_db

State = CallbackDelivery.State
Kind = CallbackDelivery.Kind


@pytest.fixture
def both_kinds(conversion_factory, partner_factory):
    """A conversion per pair of (JSON callback, global postback) outcomes of its Success."""
    partner = partner_factory(
        callback_url="https://rewards.example/cb",
        postback_url="https://rewards.example/pb?c={conversion_id}",
    )

    def create(callback_state, postback_state):
        conversion = conversion_factory(click__partner=partner)
        conversion_status_set(
            conversion_ids=[conversion.pk], status=Status.SUCCESS, source=Source.ADMIN
        )
        deliveries = CallbackDelivery.objects.filter(conversion=conversion)
        deliveries.filter(kind=Kind.CALLBACK).update(state=callback_state)
        deliveries.filter(kind=Kind.POSTBACK).update(state=postback_state)
        return conversion

    return {
        "both_sent": create(State.DELIVERED, State.DELIVERED),
        "postback_failed": create(State.DELIVERED, State.FAILED),
        "callback_due": create(State.PENDING, State.DELIVERED),
        "both_failed": create(State.FAILED, State.FAILED),
    }


def test_the_column_shows_the_least_advanced_of_a_change_s_deliveries(admin_client, both_kinds):
    column = callback_column(admin_client.get(CHANGELIST))

    assert {name: column[conversion.pk] for name, conversion in both_kinds.items()} == {
        "both_sent": "Sent",
        "postback_failed": "Failed",
        "callback_due": "Due",
        "both_failed": "Failed",
    }


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("sent", ["both_sent"]),
        ("failed", ["postback_failed", "both_failed"]),
        ("pending", ["callback_due"]),
    ],
)
def test_the_filter_lists_each_conversion_once_by_its_least_advanced_delivery(
    admin_client, both_kinds, choice, expected
):
    response = admin_client.get(CHANGELIST, {"callback_sent": choice})

    assert listed_ids(response) == sorted(both_kinds[name].pk for name in expected)


def test_the_history_names_the_callback_and_the_postback(admin_client, both_kinds):
    conversion = both_kinds["postback_failed"]

    page = admin_client.get(
        reverse("admin:conversions_conversion_change", args=[conversion.pk])
    ).text

    assert "Callback: Delivered" in page
    assert "Global postback: Failed" in page
    assert "gk-callback-failed" in page
