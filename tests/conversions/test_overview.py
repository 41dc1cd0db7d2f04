"""The overview (the admin's first page): each figure against an independent count of the
conversions, and each figure's link lists the conversions it counts."""

import html
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from callbacks.models import CallbackDelivery
from conversions.admin.overview import overview_context
from conversions.change_sets import services as change_sets
from conversions.imports import services as imports
from conversions.models import Conversion, Offer, Source, Status, StatusChange
from conversions.overview import hour_floor, overview_read
from conversions.services import conversion_status_set
from conversions.tracking import conversion_record_from_postback
from tests.conversions.audit_trail import audit_trail_assert_unbroken
from tests.conversions.imports.status_files import HEADER, csv_bytes
from tests.conversions.test_admin_list import listed_ids

pytestmark = pytest.mark.django_db

# Hours ago at which the conversions were created: across every window and backlog age.
AGES_HOURS = [0, 3, 23, 25, 30, 24 * 3, 24 * 6, 24 * 8, 24 * 20, 24 * 29, 24 * 31, 24 * 45]


@pytest.fixture
def network(offer_factory, offer_event_factory, click_factory, partner_factory, admin_user):
    """Postbacks on an automatic USD offer and a manual EUR one, for two partners, at the ages
    above; then an admin rejects some and approves some."""
    now = timezone.now()
    usd = offer_factory(name="Game", currency="USD")
    eur = offer_factory(name="Survey", currency="EUR", rewarding_mode=Offer.RewardingMode.MANUAL)
    partners = [partner_factory(name="RewardHub"), partner_factory(name="PlayPoints")]
    events = {
        usd.pk: offer_event_factory(offer=usd, payout=Decimal("0.50"), revenue=Decimal("0.80")),
        eur.pk: offer_event_factory(offer=eur, payout=Decimal("1.20"), revenue=Decimal("1.80")),
    }
    ids = []
    for n, hours in enumerate(AGES_HOURS * 2):
        offer = (usd, eur)[n % 2]
        click = click_factory(offer=offer, partner=partners[(n // 2) % 2])
        Conversion.objects.none()
        result = conversion_record_from_postback(
            gk_click_id=click.gk_click_id,
            event_code=events[offer.pk].code,
            transaction_id=f"T{n}",
            token=offer.postback_secret,
            now=now - timedelta(hours=hours, minutes=5),
        )
        ids.append(result.conversion_id)
    conversion_status_set(
        conversion_ids=ids[::5], status=Status.REJECTED, source=Source.ADMIN, user=admin_user
    )
    conversion_status_set(
        conversion_ids=ids[1::7], status=Status.SUCCESS, source=Source.ADMIN, user=admin_user
    )
    return {"now": now, "partners": partners, "offers": [usd, eur], "ids": ids}


def money(queryset):
    by_currency = {}
    for currency, payout, revenue in (
        queryset.values_list("offer__currency")
        .annotate(payout=Sum("payout"), revenue=Sum("revenue"))
        .order_by()
    ):
        by_currency[currency] = (payout, revenue)
    return by_currency


def test_conversions_by_status_in_each_window_match_a_count(network):
    overview = overview_read()
    hour = hour_floor(overview.now)
    midnight = hour.replace(hour=0)
    # The last 24 hours to the hour; 7 and 30 calendar days (UTC), today included.
    starts = [
        hour - timedelta(hours=24),
        midnight - timedelta(days=6),
        midnight - timedelta(days=29),
    ]

    for window, since in zip(overview.windows, starts, strict=True):
        assert window.since == since
        created = Conversion.objects.filter(created_at__gte=since)
        assert window.total.conversions == created.count()
        for status in Status.values:
            counted = created.filter(status=status)
            amounts = window.by_status[status]
            assert amounts.conversions == counted.count(), (window.label, status)
            assert {
                currency: (amounts.payout[currency], amounts.revenue[currency])
                for currency in amounts.payout
            } == money(counted)


def test_rates_by_offer_and_partner_match_a_count(network):
    overview = overview_read()
    recent = Conversion.objects.filter(created_at__gte=overview.rates_since)

    for rates, field in (
        (overview.offer_rates, "offer_id"),
        (overview.partner_rates, "partner_id"),
    ):
        assert {rate.id for rate in rates} == set(recent.values_list(field, flat=True))
        for rate in rates:
            mine = recent.filter(**{field: rate.id})
            assert rate.total == mine.count()
            assert rate.share(Status.SUCCESS) == mine.filter(status="success").count() / rate.total
            assert (
                rate.share(Status.REJECTED) == mine.filter(status="rejected").count() / rate.total
            )


def test_the_pending_backlog_by_age_matches_a_count(network):
    overview = overview_read()
    hour = hour_floor(overview.now)
    midnight = hour.replace(hour=0)
    cutoffs = [
        hour - timedelta(hours=24),
        midnight - timedelta(days=7),
        midnight - timedelta(days=30),
    ]

    assert overview.backlog
    for row in overview.backlog:
        for (label, cutoff, count), expected in zip(row.older_than, cutoffs, strict=True):
            assert cutoff == expected
            assert (
                count
                == Conversion.objects.filter(
                    offer_id=row.offer_id, status=Status.PENDING, created_at__lt=cutoff
                ).count()
            ), label


def test_per_day_counts_match_a_count(network):
    days = overview_read().days

    assert len(days) == 30
    for day in days:
        on_day = Conversion.objects.filter(
            created_at__gte=day.start, created_at__lt=day.start + timedelta(days=1)
        )
        for status in Status.values:
            assert day.by_status.get(status, 0) == on_day.filter(status=status).count()


def test_partners_with_failed_callbacks_match_a_count(network):
    partner = network["partners"][1]
    conversions = Conversion.objects.filter(partner=partner)[:3]
    for n, conversion in enumerate(conversions):
        CallbackDelivery.objects.create(
            status_change_id=StatusChange.objects.get(
                conversion=conversion, sequence_number=conversion.status_version
            ).pk,
            conversion=conversion,
            partner=partner,
            sequence_number=1,
            state=CallbackDelivery.State.FAILED if n < 2 else CallbackDelivery.State.DELIVERED,
            next_attempt_at=timezone.now(),
            created_at=timezone.now() - timedelta(hours=n),
        )

    failed = overview_read().failed_callbacks

    assert [(f.partner_id, f.failed, f.at_least) for f in failed] == [(partner.pk, 2, False)]
    assert (
        failed[0].latest_failure_at
        == CallbackDelivery.objects.filter(state="failed").order_by("-created_at")[0].created_at
    )


def test_the_latest_imports_show_their_outcome(network, admin_user, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    conversion = Conversion.objects.select_related("click").filter(status="pending").first()
    path = tmp_path / "statuses.csv"
    path.write_bytes(
        csv_bytes(
            [
                HEADER,
                [conversion.click.gk_click_id, conversion.pk, "Success", ""],
                ["nope", "", "Success", ""],
            ]
        )
    )
    job = imports.import_job_create(
        user=admin_user, upload=path, original_name=path.name, queue_validation=False
    )
    job = change_sets.import_job_validate(import_job=job)
    change_sets.import_job_confirm(
        import_job=job, user=admin_user, send_callbacks=False, queue_apply=False
    )
    change_sets.import_job_apply(import_job=job)

    row = overview_context_for(admin_user)["imports"][0]

    assert (row["job"].pk, row["job"].state, row["rows"], row["changed"], row["rejected"]) == (
        job.pk,
        "applied",
        2,
        1,
        1,
    )
    audit_trail_assert_unbroken()


def overview_context_for(user):
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = user
    return overview_context(request)


def test_every_figure_links_to_the_list_of_the_conversions_it_counts(admin_client, network):
    page = admin_client.get("/admin/")
    assert page.status_code == 200
    figures = re.findall(r'<a href="([^"]+)" class="gk-figure">([\d,]+)</a>', page.text)

    assert len(figures) > 15
    for url, shown in figures:
        url = html.unescape(url)
        if "/conversions/conversion/" not in url:
            continue
        listed = admin_client.get(url)
        count = int(shown.replace(",", ""))
        assert len(listed_ids(listed)) == count, (url, shown)
        # The list's totals, from the same tally, agree.
        assert f"<strong>{shown} conversion" in listed.text, url
    assert 'class="gk-chart"' in page.text
    audit_trail_assert_unbroken()


def test_a_user_who_may_not_view_conversions_sees_no_figures(client, django_user_model):
    user = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    client.force_login(user)

    page = client.get("/admin/")

    assert page.status_code == 200
    assert "Conversions by status" not in page.text
