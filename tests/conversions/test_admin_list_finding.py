"""Conversion Management: date ranges, search by partner sub id, what an empty search says,
and the totals of a filter."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from conversions.models import Status
from conversions.tally import conversion_tally_rebuild
from gokart.admin_base import LargeTablePaginator
from tests.conversions.test_admin_list import listed_ids

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:conversions_conversion_changelist")


def totals_line(response):
    text = re.search(r'<p class="gk-totals" id="gk-totals">(.*?)</p>', response.text, re.S)[1]
    return " ".join(re.sub(r"<[^>]+>", "", text).split())


# -- date ranges -------------------------------------------------------------------------------


def test_created_from_and_before_dates(admin_client, conversion_factory):
    now = timezone.now().replace(hour=12)
    inside = conversion_factory(created_at=now - timedelta(days=3))
    conversion_factory(created_at=now - timedelta(days=10))  # before the range
    conversion_factory(created_at=now)  # on the "before" day: not included
    start, before = (now - timedelta(days=5)).date(), now.date()

    response = admin_client.get(
        CHANGELIST, {"created_at__gte": start.isoformat(), "created_at__lt": before.isoformat()}
    )

    assert listed_ids(response) == [inside.pk]
    assert f'value="{start.isoformat()}"' in response.text  # the inputs keep what was typed


def test_last_status_change_range_to_the_minute_newest_change_first(
    admin_client, conversion_factory
):
    now = timezone.now().replace(second=0, microsecond=0)
    older = conversion_factory(status_changed_at=now - timedelta(hours=2))
    newer = conversion_factory(status_changed_at=now - timedelta(hours=1))
    newest_id_changed_first = conversion_factory(status_changed_at=now - timedelta(hours=3))
    conversion_factory(status_changed_at=now - timedelta(days=2))
    start = f"{now - timedelta(hours=4):%Y-%m-%d %H:%M}"

    response = admin_client.get(CHANGELIST, {"status_changed_at__gte": start})

    assert listed_ids(response) == [newer.pk, older.pk, newest_id_changed_first.pk]


def test_a_date_range_combines_with_other_filters_and_the_search(admin_client, conversion_factory):
    now = timezone.now()
    wanted = conversion_factory(status=Status.REJECTED, created_at=now - timedelta(days=1))
    conversion_factory(status=Status.SUCCESS, created_at=now - timedelta(days=1))

    response = admin_client.get(
        CHANGELIST,
        {
            "created_at__gte": (now - timedelta(days=2)).date().isoformat(),
            "status__exact": "rejected",
        },
    )

    assert listed_ids(response) == [wanted.pk]
    # The range's form carries the other filters along.
    assert '<input type="hidden" name="status__exact" value="rejected">' in response.text


def test_a_date_that_is_not_one_is_refused_without_an_error_page(admin_client):
    response = admin_client.get(CHANGELIST, {"created_at__gte": "yesterday"})

    assert response.status_code == 302 and "e=1" in response["Location"]


# -- search by partner sub id, and an empty result -------------------------------------------


def test_search_by_partner_sub_id_finds_the_conversions_of_its_clicks(
    admin_client, conversion_factory, click_factory
):
    click = click_factory(sub_id="player-42")
    first, second = conversion_factory(click=click), conversion_factory(click=click)
    conversion_factory(click=click_factory(sub_id="player-420"))

    found = listed_ids(admin_client.get(CHANGELIST, {"q": "player-42"}))

    assert sorted(found) == sorted([first.pk, second.pk])


def test_an_empty_search_says_what_it_searched(admin_client, conversion_factory):
    conversion_factory()

    response = admin_client.get(CHANGELIST, {"q": "xyz"})

    assert listed_ids(response) == []
    assert (
        "No conversion has Conversion Event ID, gk_click_id, transaction id or partner sub id "
        "“xyz”." in response.text
    )
    filtered = admin_client.get(CHANGELIST, {"q": "xyz", "status__exact": "pending"})
    assert "No conversion matching the filters has Conversion Event ID" in filtered.text


# -- totals ----------------------------------------------------------------------------------


def test_totals_of_a_filter_are_exact_from_the_tally_per_currency(
    admin_client, conversion_factory, offer_factory, offer_event_factory, click_factory
):
    euro = offer_factory(currency="EUR")
    event = offer_event_factory(offer=euro, payout=Decimal("0.5"), revenue=Decimal("0.75"))
    for _ in range(3):
        conversion_factory(click=click_factory(offer=euro), offer_event=event)
    conversion_factory(status=Status.SUCCESS)  # another offer, in USD, another status
    conversion_tally_rebuild()

    by_status = admin_client.get(CHANGELIST, {"status__exact": "pending"})
    by_offer = admin_client.get(CHANGELIST, {"offer__id__exact": euro.pk})
    everything = admin_client.get(CHANGELIST)

    assert totals_line(by_status) == ("3 conversions · payout 1.50 EUR · revenue 2.25 EUR (exact)")
    assert totals_line(by_offer) == totals_line(by_status)
    assert totals_line(everything) == (
        "4 conversions · payout 1.50 EUR · 1.50 USD · revenue 2.25 EUR · 2.00 USD (exact)"
    )


def test_totals_past_the_count_bound_say_at_least(admin_client, conversion_factory, monkeypatch):
    monkeypatch.setattr(LargeTablePaginator, "COUNT_CAP", 5)
    for _ in range(8):
        conversion_factory(transaction_id="", status_source="admin")

    response = admin_client.get(CHANGELIST, {"status_source__exact": "admin"})

    assert totals_line(response).startswith(
        "more than 5 conversions · payout at least 9.00 USD · revenue at least 12.00 USD"
    )


def test_one_way_to_write_times_money_and_durations(admin_client, conversion_factory):
    from datetime import UTC, datetime

    from django.utils.formats import date_format

    from conversions.admin.display import duration, when
    from conversions.amounts import money

    moment = datetime(2026, 12, 1, 14, 5, tzinfo=UTC)
    assert when(moment) == "2026-12-01 14:05 UTC" == date_format(moment, "DATETIME_FORMAT")
    assert money(Decimal("0.5000"), "USD") == "0.50 USD"
    assert money(Decimal("0.1250"), "USD") == "0.125 USD"  # sub-cent digits are kept
    assert duration(timedelta(days=7)) == "7 days"
    assert duration(timedelta(hours=12)) == "12 hours"
    assert duration(timedelta(days=1, hours=6)) == "1 day 6 hours"
    conversion = conversion_factory(created_at=moment)
    page = admin_client.get(
        reverse("admin:conversions_conversion_change", args=[conversion.pk])
    ).text
    assert "2026-12-01 14:05 UTC" in page
    assert "1.50 USD" in page


def test_offers_show_durations_in_words_and_money_with_two_decimals(
    admin_client, offer_event_factory
):
    event = offer_event_factory(payout=Decimal("0.5000"), offer__pending_time=timedelta(days=7))
    offer = event.offer

    listed = admin_client.get(reverse("admin:conversions_offer_changelist")).text
    page = admin_client.get(reverse("admin:conversions_offer_change", args=[offer.pk])).text

    assert '<td class="field-pending_time_words">7 days</td>' in listed
    assert 'value="7 days"' in page and 'value="30 days"' in page
    assert 'value="0.50"' in page
    assert "0:00:00" not in listed + page


def test_a_duration_typed_in_words_is_understood():
    from conversions.admin.offers import DurationInWordsField

    field = DurationInWordsField()
    assert field.clean("7 days") == timedelta(days=7)
    assert field.clean("1 day 6 hours") == timedelta(days=1, hours=6)
    assert field.clean("12h") == timedelta(hours=12)
    assert field.clean("7 00:00:00") == timedelta(days=7)


def test_a_row_link_keeps_the_list_filters_for_the_way_back(admin_client, conversion_factory):
    conversion = conversion_factory(status=Status.PENDING)

    page = admin_client.get(CHANGELIST, {"status__exact": "pending"}).text

    change = reverse("admin:conversions_conversion_change", args=[conversion.pk])
    assert f'<a href="{change}?_changelist_filters=status__exact%3Dpending">' in page
    assert f'<a href="{change}">' in admin_client.get(CHANGELIST).text
