"""The callback deliveries page: list, filters, search, every attempt, and resending.

Deliveries are written by the real status-change service; what the delivery worker would have
recorded about them (attempts, outcome) is set up directly as the "given".
"""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from callbacks.models import CallbackDelivery
from tests.callbacks.deliveries_given import (
    CHANGELIST,
    change_url,
    listed_deliveries,
)

pytestmark = pytest.mark.django_db

State = CallbackDelivery.State


# -- the list -------------------------------------------------------------------------------


def test_the_list_shows_what_an_admin_needs_about_each_callback(admin_client, owed_callback):
    failed = owed_callback(state=State.FAILED, attempts=[(500, "oops", ""), (410, "Gone", "")])

    page = admin_client.get(CHANGELIST).text

    for header in (
        "Id",
        "Conversion",
        "Partner",
        "Seq.",
        "State",
        "Attempts",
        "Next attempt",
        "Last response",
        "Created",
        "Delivered",
    ):
        assert f">{header}<" in page, header
    conversion_url = reverse("admin:conversions_conversion_change", args=[failed.conversion_id])
    assert f'<a href="{conversion_url}">{failed.conversion_id}</a>' in page
    assert "Reward Wall" in page
    assert '<span class="gk-callback gk-callback-failed">Failed</span>' in page
    assert "HTTP 410" in page
    assert re.search(r'<td class="field-attempts">2</td>', page)


def test_a_pending_callback_shows_its_next_attempt_and_errors_read_as_text(
    admin_client, owed_callback
):
    owed_callback(attempts=[(None, "", "Connection refused by rewards.example")])

    page = admin_client.get(CHANGELIST).text

    assert '<span class="gk-callback gk-callback-retrying">Retrying</span>' in page
    assert "Connection refused by rewards.example" in page
    assert not re.search(r'<td class="field-next_attempt">—</td>', page)


def test_filter_by_state(admin_client, owed_callback):
    failed = owed_callback(state=State.FAILED, attempts=[(410, "", "")])
    owed_callback(state=State.DELIVERED, attempts=[(200, "ok", "")])
    owed_callback()

    response = admin_client.get(CHANGELIST, {"state__exact": "failed"})

    assert listed_deliveries(response) == [str(failed.pk)]


def test_filter_by_partner(admin_client, owed_callback, partner_factory):
    other_partner = partner_factory(callback_url="https://other.example/cb")
    theirs = owed_callback(partner=other_partner)
    owed_callback()

    response = admin_client.get(CHANGELIST, {"partner__id__exact": other_partner.pk})

    assert listed_deliveries(response) == [str(theirs.pk)]


def test_filter_by_date(admin_client, owed_callback):
    recent = owed_callback()
    old = owed_callback()
    CallbackDelivery.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(days=40)
    )
    past_week = re.search(r'<a href="([^"]+)">Past 7 days</a>', admin_client.get(CHANGELIST).text)

    response = admin_client.get(CHANGELIST + past_week[1].replace("&amp;", "&"))

    assert listed_deliveries(response) == [str(recent.pk)]


def test_search_by_conversion_event_id(admin_client, owed_callback):
    wanted = owed_callback()
    owed_callback()

    response = admin_client.get(CHANGELIST, {"q": str(wanted.conversion_id)})

    assert listed_deliveries(response) == [str(wanted.pk)]


def test_search_by_gk_click_id_finds_the_callbacks_of_every_event_of_the_click(
    admin_client, owed_callback, click_factory, reward_wall
):
    click = click_factory(partner=reward_wall)
    first = owed_callback(click=click)
    second = owed_callback(click=click)
    owed_callback()

    response = admin_client.get(CHANGELIST, {"q": click.gk_click_id})

    assert sorted(listed_deliveries(response)) == sorted([str(first.pk), str(second.pk)])


def test_search_by_callback_id_the_partner_reports(admin_client, owed_callback):
    wanted = owed_callback()
    owed_callback()

    response = admin_client.get(CHANGELIST, {"q": f"  {wanted.pk}  "})

    assert listed_deliveries(response) == [str(wanted.pk)]


def test_search_matches_whole_values_only(admin_client, owed_callback):
    delivery = owed_callback()

    response = admin_client.get(CHANGELIST, {"q": str(delivery.pk)[:8]})

    assert listed_deliveries(response) == []


def test_the_list_never_counts_or_facets_the_whole_table(admin_client, owed_callback):
    owed_callback()

    response = admin_client.get(CHANGELIST, {"_facets": "1"})

    admin = response.context["cl"].model_admin
    assert admin.show_full_result_count is False
    assert "gk-result-count" in response.text
    assert "(1)" not in response.text  # no facet counts next to the filter choices


def test_the_list_runs_a_bounded_number_of_queries_however_many_rows(
    admin_client, owed_callback, django_assert_max_num_queries
):
    for _ in range(3):
        owed_callback()
    with django_assert_max_num_queries(20) as few:
        admin_client.get(CHANGELIST)
    for _ in range(20):
        owed_callback()

    with django_assert_max_num_queries(len(few.captured_queries)):
        admin_client.get(CHANGELIST)


# -- one delivery: payload and every attempt ------------------------------------------------


def test_the_page_of_a_delivery_shows_the_payload_and_every_attempt(admin_client, owed_callback):
    delivery = owed_callback(
        state=State.FAILED,
        attempts=[
            (None, "", "Read timed out after 10 s"),
            (503, "Service Unavailable", ""),
            (410, "x" * 2000, ""),
        ],
    )

    page = admin_client.get(change_url(delivery)).text

    assert '<pre class="gk-payload">{\n  &quot;id&quot;: &quot;' in page
    assert f"&quot;conversionId&quot;: {delivery.conversion_id}" in page
    rows = re.findall(r'<tr class="form-row[^"]*"[^>]*>(.*?)</tr>', page, re.S)
    assert len(rows) == 3
    assert "Read timed out after 10 s" in rows[0] and "41 ms" in rows[0]
    assert "503" in rows[1] and "Service Unavailable" in rows[1]
    assert "410" in rows[2] and "x" * 2000 in rows[2]  # the whole kept excerpt, folded
    assert "<details" in rows[2]


def test_a_delivery_cannot_be_added_edited_or_deleted(admin_client, owed_callback):
    delivery = owed_callback()

    page = admin_client.get(change_url(delivery)).text

    assert 'name="_save"' not in page
    assert admin_client.get(reverse("admin:callbacks_callbackdelivery_add")).status_code == 403
    delete = reverse("admin:callbacks_callbackdelivery_delete", args=[delivery.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert CallbackDelivery.objects.filter(pk=delivery.pk).exists()
