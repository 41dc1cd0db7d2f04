"""Conversion Management's list: columns, exact search, filters, counts and query budget."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from conversions.admin import ConversionAdmin
from conversions.models import Offer, OfferEvent, Source, Status
from gokart.admin_base import LargeTablePaginator
from gokart.encryption import token_digest

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:conversions_conversion_changelist")


def listed_ids(response):
    """The Conversion Event IDs in the list, top to bottom, as the page shows them."""
    assert response.status_code == 200
    return [
        int(pk)
        for pk in re.findall(r'<th class="field-id"><a href="[^"]*">(\d+)</a>', response.text)
    ]


def result_count(response):
    return re.search(r'<span class="gk-result-count">([^<]*)</span>', response.text)[1].strip()


def test_the_list_shows_the_columns_an_admin_works_with(admin_client, conversion_factory):
    conversion = conversion_factory(status=Status.REJECTED, transaction_id="txn-cols")

    page = admin_client.get(CHANGELIST).text

    assert "<h1>Conversions</h1>" in page
    assert 'id="nav-sidebar"' not in page  # the list gets the whole width
    for header in (
        "ID",
        "Click ID (gk_click_id)",
        "Offer · event",
        "Partner · sub id",
        "Status",
        "Payout · revenue",
        "Created",
        "Last status change",
        "Callback sent",
        "Set status",
    ):
        assert f"<span>{header}</span>" in page or f">{header}</a>" in page, header
    assert '<span class="gk-status gk-status-rejected">Rejected</span>' in page
    assert conversion.click.gk_click_id in page
    assert conversion.offer_event.name in page
    assert conversion.partner.name in page


# -- search: exact, on indexes ---------------------------------------------------------------


def test_search_by_conversion_event_id(admin_client, conversion_factory):
    wanted, _other = conversion_factory.create_batch(2)

    assert listed_ids(admin_client.get(CHANGELIST, {"q": str(wanted.pk)})) == [wanted.pk]


def test_search_by_gk_click_id_finds_every_event_of_the_click(
    admin_client, conversion_factory, click_factory, offer_event_factory
):
    click = click_factory()
    install, purchase = offer_event_factory.create_batch(2, offer=click.offer)
    first = conversion_factory(click=click, offer_event=install)
    second = conversion_factory(click=click, offer_event=purchase)
    conversion_factory()

    found = listed_ids(admin_client.get(CHANGELIST, {"q": f" {click.gk_click_id} "}))

    assert found == [second.pk, first.pk]


def test_search_by_advertiser_transaction_id(admin_client, conversion_factory):
    wanted = conversion_factory(transaction_id="ADV-7781")
    conversion_factory(transaction_id="ADV-77810")

    assert listed_ids(admin_client.get(CHANGELIST, {"q": "ADV-7781"})) == [wanted.pk]


def test_search_matches_whole_values_only(admin_client, conversion_factory):
    conversion = conversion_factory(transaction_id="ADV-123456")

    for term in (conversion.click.gk_click_id[:8], "ADV-123", "ADV", "%", "9" * 40):
        assert listed_ids(admin_client.get(CHANGELIST, {"q": term})) == [], term


def test_search_combines_with_filters(admin_client, conversion_factory, click_factory):
    click = click_factory()
    pending = conversion_factory(click=click, status=Status.PENDING)
    conversion_factory(click=click, status=Status.SUCCESS)

    response = admin_client.get(
        CHANGELIST, {"q": click.gk_click_id, "status__exact": Status.PENDING}
    )

    assert listed_ids(response) == [pending.pk]


# -- filters ---------------------------------------------------------------------------------


def test_filter_by_status(admin_client, conversion_factory):
    rejected = conversion_factory(status=Status.REJECTED)
    conversion_factory(status=Status.SUCCESS)

    assert listed_ids(admin_client.get(CHANGELIST, {"status__exact": "rejected"})) == [rejected.pk]


def test_filter_by_offer_and_by_partner(admin_client, conversion_factory):
    first, second = conversion_factory.create_batch(2)

    by_offer = admin_client.get(CHANGELIST, {"offer__id__exact": first.offer_id})
    by_partner = admin_client.get(CHANGELIST, {"partner__id__exact": second.partner_id})

    assert listed_ids(by_offer) == [first.pk]
    assert listed_ids(by_partner) == [second.pk]
    assert first.offer.name in by_offer.text  # the offer filter lists offers by name


def test_filter_by_where_the_status_last_came_from(admin_client, conversion_factory):
    conversion_factory(status_source=Source.POSTBACK)
    imported = conversion_factory(status_source=Source.BULK_IMPORT)

    response = admin_client.get(CHANGELIST, {"status_source__exact": Source.BULK_IMPORT})

    assert listed_ids(response) == [imported.pk]


def test_the_date_filters_do_not_aggregate_the_table(admin_client):
    page = admin_client.get(CHANGELIST).text

    assert "xfull" not in page  # date_hierarchy's year/month drill-down is not there
    assert 'name="created_at__gte"' in page and 'name="status_changed_at__lt"' in page


# -- counts and pages on large tables ----------------------------------------------------------


def test_a_small_list_shows_its_exact_count(admin_client, conversion_factory):
    conversion_factory.create_batch(3)

    assert result_count(admin_client.get(CHANGELIST)) == "3 conversions"


def test_a_large_table_is_counted_by_the_tally_and_another_filter_up_to_the_cap(
    admin_client, conversion_factory, monkeypatch
):
    # Given a table larger than the count cap (lowered here so the test stays small)
    monkeypatch.setattr(LargeTablePaginator, "COUNT_CAP", 20)
    monkeypatch.setattr(ConversionAdmin, "list_per_page", 10)
    conversion_factory.create_batch(30, status=Status.PENDING)

    # When the list is shown unfiltered and by status (the tally answers both), and by source
    # (it cannot)
    with CaptureQueriesContext(connection) as queries:
        unfiltered = admin_client.get(CHANGELIST)
        by_status = admin_client.get(CHANGELIST, {"status__exact": "pending"})
    by_source = admin_client.get(CHANGELIST, {"status_source__exact": "postback"})

    # Then the first two are exact without counting the table, the third counted to the cap
    assert result_count(unfiltered) == "30 conversions"
    assert "Select all 30 conversions" in unfiltered.text
    assert result_count(by_status) == "30 conversions"
    assert not [q for q in queries if "COUNT(" in q["sql"] and "conversions_conversion" in q["sql"]]
    assert result_count(by_source) == "more than 20 conversions"


def test_later_pages_list_the_right_rows_in_order(admin_client, conversion_factory):
    conversions = conversion_factory.create_batch(105)
    newest_first = sorted((c.pk for c in conversions), reverse=True)

    first = listed_ids(admin_client.get(CHANGELIST))
    second = listed_ids(admin_client.get(CHANGELIST, {"p": "2"}))

    assert first == newest_first[:100]
    assert second == newest_first[100:]


def test_the_list_runs_a_bounded_number_of_queries_however_many_rows(
    admin_client,
    conversion_factory,
    offer_factory,
    partner_factory,
    click_factory,
    django_assert_max_num_queries,
):
    # Given 100 conversions over several offers, events, partners and clicks
    for _ in range(4):
        offer, partner = offer_factory(), partner_factory()
        events = [
            OfferEvent.objects.create(offer=offer, code=f"e{n}", name=f"E{n}") for n in range(5)
        ]
        for _ in range(5):
            click = click_factory(offer=offer, partner=partner)
            for event in events:
                conversion_factory(click=click, offer_event=event)
    assert Offer.objects.count() == 4

    # When the list's first and second pages are shown, then each stays within the budget
    # (session, user, count, filters' choices, the rows in one joined query).
    with django_assert_max_num_queries(12):
        assert len(listed_ids(admin_client.get(CHANGELIST))) == 100
    with django_assert_max_num_queries(12):
        listed_ids(admin_client.get(CHANGELIST, {"p": "2", "status__exact": "pending"}))


def test_facet_counts_cannot_be_switched_on(admin_client, conversion_factory):
    conversion_factory()

    page = admin_client.get(CHANGELIST, {"_facets": "True"}).text

    assert "Show counts" not in page
    assert "(1)" not in page


# -- offers and clicks -----------------------------------------------------------------------


def test_an_offer_is_created_with_its_events_inline(admin_client):
    response = admin_client.post(
        reverse("admin:conversions_offer_add"),
        {
            "name": "Dragon Quest",
            "advertiser": "Acme Games",
            "is_active": "on",
            "rewarding_mode": "automatic",
            "pending_time": "",
            "attribution_window": "30 00:00:00",
            "currency": "EUR",
            "landing_url": "https://advertiser.example/?c={gk_click_id}",
            "events-TOTAL_FORMS": "2",
            "events-INITIAL_FORMS": "0",
            "events-MIN_NUM_FORMS": "0",
            "events-MAX_NUM_FORMS": "1000",
            "events-0-code": "install",
            "events-0-name": "Install",
            "events-0-payout": "1.20",
            "events-0-revenue": "2.00",
            "events-1-code": "level_10",
            "events-1-name": "Level 10",
            "events-1-payout": "3.00",
            "events-1-revenue": "5.00",
        },
    )

    offer = Offer.objects.get(name="Dragon Quest")
    assert sorted(offer.events.values_list("code", flat=True)) == ["install", "level_10"]
    listed = admin_client.get(reverse("admin:conversions_offer_changelist")).text
    assert "Dragon Quest" in listed
    # The generated postback token is shown once, in the postback URL (on the page the creation
    # redirects to), then only masked.
    assert response.status_code == 302
    shown = admin_client.get(response["Location"])
    assert "no-store" in shown["Cache-Control"]
    # (the database keeps only its digest: gokart.encryption)
    token = re.search(r"&amp;token=([^<]+)</code>", shown.text)[1]
    assert offer.postback_secret == token_digest(token)
    page = admin_client.get(reverse("admin:conversions_offer_change", args=[offer.pk])).text
    assert token not in page
    assert f"{token[:2]}…{token[-2:]}" in page


def test_clicks_are_found_by_exact_gk_click_id_and_are_read_only(admin_client, click_factory):
    click, _other = click_factory.create_batch(2)
    changelist = reverse("admin:conversions_click_changelist")

    exact = admin_client.get(changelist, {"q": click.gk_click_id}).text
    partial = admin_client.get(changelist, {"q": click.gk_click_id[:10]}).text

    assert exact.count('class="field-gk_click_id"') == 1 and click.gk_click_id in exact
    assert 'class="field-gk_click_id"' not in partial
    assert admin_client.get(reverse("admin:conversions_click_add")).status_code == 403
    page = admin_client.get(reverse("admin:conversions_click_change", args=[click.pk])).text
    assert click.gk_click_id in page and 'name="_save"' not in page
