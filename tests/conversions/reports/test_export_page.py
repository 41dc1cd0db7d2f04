"""The Export page says what the file will hold before it is made: the filters that apply,
about how many rows, and a file name derived from the filters."""

from datetime import date

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from conversions.admin import export_scope
from conversions.admin.export_scope import report_filename
from conversions.models import Conversion, Status
from conversions.tally import conversion_tally_rebuild
from gokart.admin_base import LargeTablePaginator, planned_rows

pytestmark = pytest.mark.django_db

EXPORT_URL = reverse("admin:conversions_conversion_export")
CSV_FORMAT, XLSX_FORMAT = "0", "1"


def export_page(client, query=""):
    response = client.get(f"{EXPORT_URL}{query}")
    assert response.status_code == 200
    return response.text


def scope(page):
    return page.split('id="gk-export-scope"', 1)[1].split("</div>\n</div>", 1)[0]


def test_the_page_lists_the_active_filters_and_the_exact_count_from_the_tally(
    admin_client, conversion_factory, offer_factory
):
    # Given Success and Pending conversions of an offer (counted by the tally)
    offer = offer_factory(name="Dragon Quest")
    conversion_factory.create_batch(3, status=Status.SUCCESS, click__offer=offer)
    conversion_factory(status=Status.PENDING, click__offer=offer)
    conversion_factory(status=Status.SUCCESS)
    conversion_tally_rebuild()

    # When the admin opens Export from the list filtered to Success of that offer, in November
    query = (
        f"?status__exact=success&offer__id__exact={offer.pk}"
        "&created_at__gte=2026-11-01&created_at__lt=2099-12-01"
    )
    with CaptureQueriesContext(connection) as queries:
        page = scope(export_page(admin_client, query))

    # Then it names each filter in the list's words, and how many rows will come out
    assert "<dt>Status</dt><dd>Success</dd>" in page
    assert "<dt>Offer</dt><dd>Dragon Quest</dd>" in page
    assert "<dt>Created</dt><dd>from 2026-11-01, before 2099-12-01</dd>" in page
    assert '<strong id="gk-export-rows">3 conversions</strong>' in page
    # read from the tally: the conversions table is not counted at all
    assert not [q for q in queries if "COUNT(" in q["sql"] and "conversions_conversion" in q["sql"]]
    # And the file name says the filter
    assert f"conversions-success-offer-{offer.pk}-2026-11-01--2099-11-30.csv" in page
    assert f"conversions-success-offer-{offer.pk}-2026-11-01--2099-11-30.xlsx" in page


def test_a_filter_the_list_hides_is_still_named(admin_client, conversion_factory):
    # Given a single offer (Django's list shows no offer filter then)
    conversion = conversion_factory(click__offer__name="Only Offer")

    page = scope(export_page(admin_client, f"?offer__id__exact={conversion.offer_id}"))

    assert "<dt>Offer</dt><dd>Only Offer</dd>" in page
    assert f"conversions-offer-{conversion.offer_id}-as-of-" in page


def test_the_downloaded_file_is_named_after_the_filter(admin_client, conversion_factory):
    conversion = conversion_factory(status=Status.SUCCESS)
    query = (
        f"?status__exact=success&partner__id__exact={conversion.partner_id}"
        "&created_at__gte=2026-11-01&created_at__lt=2026-12-01"
    )

    response = admin_client.post(f"{EXPORT_URL}{query}", {"format": CSV_FORMAT, "resource": "0"})

    assert response.status_code == 200 and response.streaming
    assert response["Content-Disposition"] == (
        "attachment; filename="
        f'"conversions-success-partner-{conversion.partner_id}-2026-11-01--2026-11-30.csv"'
    )


def test_an_unfiltered_page_says_every_conversion(admin_client, conversion_factory):
    conversion_factory.create_batch(2)
    conversion_tally_rebuild()

    with CaptureQueriesContext(connection) as queries:
        page = scope(export_page(admin_client))

    assert "Every conversion: the list is not filtered." in page
    assert not [q for q in queries if "COUNT(" in q["sql"] and "conversions_conversion" in q["sql"]]
    assert '<strong id="gk-export-rows">2 conversions</strong>' in page
    assert f"conversions-all-as-of-{timezone.localdate():%Y-%m-%d}.csv" in page


def test_a_search_and_other_filters_are_counted_up_to_the_lists_bound(
    admin_client, conversion_factory
):
    wanted = conversion_factory(status=Status.REJECTED)
    conversion_factory()

    page = scope(
        export_page(admin_client, f"?q={wanted.click.gk_click_id}&status_source__exact=postback")
    )

    assert f"<dt>Search</dt><dd>{wanted.click.gk_click_id}</dd>" in page
    assert "<dt>Status source</dt><dd>Postback</dd>" in page
    assert '<strong id="gk-export-rows">1 conversion</strong>' in page
    assert f"conversions-source-postback-search-{wanted.click.gk_click_id}-as-of-" in page


def test_past_the_bound_the_count_is_the_planners_estimate_said_as_about(
    admin_client, conversion_factory, monkeypatch
):
    # Given more conversions than the list counts, under a filter the tally cannot answer
    monkeypatch.setattr(LargeTablePaginator, "COUNT_CAP", 2)
    conversion_factory.create_batch(3)
    monkeypatch.setattr(export_scope, "planned_rows", lambda queryset: 1_234_567)

    page = scope(export_page(admin_client, "?status_source__exact=postback"))

    # Then the page gives PostgreSQL's estimate, rounded, as "about", and warns about XLSX
    assert '<strong id="gk-export-rows">About 1,200,000 conversions</strong>' in page
    assert "more than one XLSX sheet holds: export CSV" in page


def test_past_the_bound_with_a_lower_estimate_it_says_more_than(
    admin_client, conversion_factory, monkeypatch
):
    monkeypatch.setattr(LargeTablePaginator, "COUNT_CAP", 2)
    conversion_factory.create_batch(3)
    monkeypatch.setattr(export_scope, "planned_rows", lambda queryset: 1)

    page = scope(export_page(admin_client, "?status_source__exact=postback"))

    assert '<strong id="gk-export-rows">More than 2 conversions</strong>' in page


def test_the_planners_estimate_is_read_without_counting(conversion_factory):
    conversion_factory.create_batch(20, status=Status.SUCCESS)
    conversion_factory.create_batch(5, status=Status.PENDING)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE conversions_conversion")

    with CaptureQueriesContext(connection) as queries:
        estimate = planned_rows(Conversion.objects.filter(status=Status.SUCCESS))

    assert 5 <= estimate <= 40
    assert [q["sql"].split()[0] for q in queries] == ["EXPLAIN"]
    assert planned_rows(Conversion.objects.none()) == 0


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("", "conversions-all-as-of-2026-12-01.csv"),
        ("status__exact=rejected", "conversions-rejected-as-of-2026-12-01.csv"),
        (
            "created_at__gte=2026-11-01&created_at__lt=2026-12-01",
            "conversions-2026-11-01--2026-11-30.csv",
        ),
        ("created_at__gte=2026-11-05", "conversions-from-2026-11-05.csv"),
        ("created_at__lt=2026-11-05", "conversions-until-2026-11-04.csv"),
        (
            "created_at__gte=2026-11-01 08:30&created_at__lt=2026-11-30 14:00",
            "conversions-2026-11-01-0830--before-2026-11-30-1400.csv",
        ),
        ("created_at__gte=2026-11-03&created_at__lt=2026-11-04", "conversions-2026-11-03.csv"),
        (
            "status_changed_at__gte=2026-11-01&callback_sent=failed",
            "conversions-callback-failed-changed-from-2026-11-01.csv",
        ),
        ("status_source__exact=bulk_import", "conversions-source-bulk-import-as-of-2026-12-01.csv"),
        # Values a filter would refuse, and unsafe characters, never reach the name
        (
            'status__exact=../../etc&offer__id__exact=1;rm&q=a"b/c\\d%0A',
            "conversions-search-a-b-c-d-as-of-2026-12-01.csv",
        ),
        ("q=%E2%98%83", "conversions-search-as-of-2026-12-01.csv"),
        ("created_at__gte=yesterday", "conversions-all-as-of-2026-12-01.csv"),
    ],
)
def test_file_names_say_the_filter_in_safe_characters(query, name):
    assert (
        report_filename(params=QueryDict(query), extension="csv", today=date(2026, 12, 1)) == name
    )


def test_a_long_search_is_cut_in_the_name():
    name = report_filename(
        params=QueryDict("q=" + "x" * 300), extension="xlsx", today=date(2026, 1, 2)
    )

    assert name == "conversions-search-" + "x" * 40 + "-as-of-2026-01-02.xlsx"
