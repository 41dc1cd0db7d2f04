"""Conversion Management's "Callback sent" column and filter: the latest callback's state."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from callbacks.models import CallbackDelivery
from conversions.models import Source, Status
from conversions.services import conversion_status_set

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:conversions_conversion_changelist")
State = CallbackDelivery.State


@pytest.fixture
def partner(partner_factory):
    return partner_factory(callback_url="https://rewards.example/cb")


@pytest.fixture
def conversion_with_callbacks(conversion_factory, partner):
    """A conversion whose status changed to each of ``statuses`` in turn through the service,
    and whose callbacks then ended in ``states`` (the delivery worker's outcome)."""

    def create(statuses, states, attempts=0):
        conversion = conversion_factory(click__partner=partner)
        for status in statuses:
            conversion_status_set(
                conversion_ids=[conversion.pk], status=status, source=Source.ADMIN
            )
        deliveries = CallbackDelivery.objects.filter(conversion=conversion).order_by(
            "sequence_number"
        )
        assert len(deliveries) == len(states)
        for delivery, state in zip(deliveries, states, strict=True):
            CallbackDelivery.objects.filter(pk=delivery.pk).update(state=state, attempts=attempts)
        return conversion

    return create


def callback_column(response):
    """Conversion Event ID -> the text of its "Callback sent" cell."""
    assert response.status_code == 200
    rows = re.findall(
        r'<th class="field-id"><a href="[^"]*">(\d+)</a></th>.*?'
        r'<td class="field-callback_sent">(.*?)</td>',
        response.text,
        re.S,
    )
    return {int(pk): re.sub(r"<[^>]+>", "", cell).strip() for pk, cell in rows}


def listed_ids(response):
    return sorted(callback_column(response))


@pytest.fixture
def one_of_each(conversion_with_callbacks, conversion_factory, partner_factory):
    no_url = partner_factory(callback_url="")
    return {
        "sent": conversion_with_callbacks([Status.SUCCESS], [State.DELIVERED]),
        "pending": conversion_with_callbacks([Status.SUCCESS], [State.PENDING]),
        "retrying": conversion_with_callbacks([Status.SUCCESS], [State.PENDING], attempts=2),
        "held": conversion_with_callbacks([Status.SUCCESS], [State.HELD]),
        "failed": conversion_with_callbacks([Status.SUCCESS], [State.FAILED]),
        # Sent Success, then a Rejected whose callback is still being retried
        "latest_pending": conversion_with_callbacks(
            [Status.SUCCESS, Status.REJECTED], [State.DELIVERED, State.PENDING]
        ),
        # A failed Success, resent and delivered as the latest
        "latest_sent": conversion_with_callbacks(
            [Status.SUCCESS, Status.REJECTED], [State.FAILED, State.DELIVERED]
        ),
        "none": conversion_factory(click__partner=no_url),
    }


def test_the_column_shows_the_state_of_the_latest_callback(admin_client, one_of_each):
    column = callback_column(admin_client.get(CHANGELIST))

    assert {name: column[conversion.pk] for name, conversion in one_of_each.items()} == {
        "sent": "Sent",
        "pending": "Due",
        "retrying": "Retrying",
        "held": "Held (partner paused)",
        "failed": "Failed",
        "latest_pending": "Due",
        "latest_sent": "Sent",
        "none": "—",
    }


def test_the_column_is_a_coloured_badge(admin_client, one_of_each):
    page = admin_client.get(CHANGELIST).text

    assert '<span class="gk-callback gk-callback-failed">Failed</span>' in page
    assert 'title="No callback owed"' in page
    assert "callbacks/admin.css" in page


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("sent", {"sent", "latest_sent"}),
        ("pending", {"pending", "retrying", "latest_pending"}),
        ("held", {"held"}),
        ("failed", {"failed"}),
        ("none", {"none"}),
    ],
)
def test_the_filter_finds_conversions_by_their_latest_callback(
    admin_client, one_of_each, choice, expected
):
    response = admin_client.get(CHANGELIST, {"callback_sent": choice})

    assert listed_ids(response) == sorted(one_of_each[name].pk for name in expected)


def test_the_filter_offers_every_choice(admin_client, one_of_each):
    page = admin_client.get(CHANGELIST).text

    for value, label in [
        ("sent", "Sent"),
        ("pending", "Due or retrying"),
        ("held", "Held (partner paused)"),
        ("failed", "Failed"),
        ("none", "None owed"),
    ]:
        assert f'?callback_sent={value}"' in page and label in page


def test_the_column_costs_no_query_per_row(admin_client, conversion_with_callbacks):
    conversion_with_callbacks([Status.SUCCESS], [State.DELIVERED])
    with CaptureQueriesContext(connection) as few_rows:
        admin_client.get(CHANGELIST)
    for _ in range(15):
        conversion_with_callbacks([Status.SUCCESS, Status.REJECTED], [State.FAILED, State.PENDING])

    with CaptureQueriesContext(connection) as many_rows:
        response = admin_client.get(CHANGELIST)

    assert len(callback_column(response)) == 16
    assert len(many_rows.captured_queries) == len(few_rows.captured_queries)
    callback_queries = [
        query["sql"]
        for query in many_rows.captured_queries
        if "callbacks_callbackdelivery" in query["sql"]
    ]
    # One query for the page's rows; the count does not touch the deliveries
    assert len(callback_queries) == 1


def test_a_conversion_whose_callbacks_all_failed_is_listed_and_counted_once(
    admin_client, conversion_with_callbacks
):
    twice = conversion_with_callbacks(
        [Status.SUCCESS, Status.REJECTED], [State.FAILED, State.FAILED]
    )
    once = conversion_with_callbacks([Status.SUCCESS], [State.FAILED])
    conversion_with_callbacks([Status.SUCCESS, Status.REJECTED], [State.FAILED, State.DELIVERED])

    response = admin_client.get(CHANGELIST, {"callback_sent": "failed"})

    shown = re.findall(r'<th class="field-id"><a href="[^"]*">(\d+)</a></th>', response.text)
    assert shown == [str(once.pk), str(twice.pk)]  # newest first, each once
    count = re.search(r'<span class="gk-result-count">([^<]*)</span>', response.text)[1]
    assert count.split()[0] == "2"
    # The totals line sums each conversion's money once: two conversions of 1.50 USD payout.
    assert "3.00 USD" in response.text
