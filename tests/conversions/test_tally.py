"""The conversion tally stays exact: after postbacks, admin changes, an import's apply and the
pending-time promotion, its sums equal a full count of the conversions, before and after
compaction."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Count, F, Sum
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from conversions.change_sets import services as change_sets
from conversions.imports import services as imports
from conversions.models import Conversion, ConversionTally, Offer, Source, Status
from conversions.services import conversion_status_set, conversions_pending_promote
from conversions.tally import conversion_tallies_compact
from conversions.tracking import conversion_record_from_postback
from tests.conversions.audit_trail import audit_trail_assert_unbroken
from tests.conversions.imports.status_files import HEADER, csv_bytes

pytestmark = pytest.mark.django_db


def counted(trunc=TruncHour):
    """The conversions counted the slow way, by the tally's key."""
    rows = (
        Conversion.objects.annotate(hour=trunc("created_at"))
        .values_list("hour", "offer_id", "partner_id", "status")
        .annotate(n=Count("pk"), payout=Sum("payout"), revenue=Sum("revenue"))
        .order_by()
    )
    return {tuple(key): (n, payout, revenue) for *key, n, payout, revenue in rows}


def tallied(trunc=None):
    rows = (
        ConversionTally.objects.annotate(bucket=trunc("hour") if trunc else F("hour"))
        .values_list("bucket", "offer_id", "partner_id", "status")
        .annotate(n=Sum("conversions"), payout=Sum("payout"), revenue=Sum("revenue"))
        .order_by()
    )
    return {tuple(key): (n, payout, revenue) for *key, n, payout, revenue in rows if n or payout}


def postback(click, event, txn, *, now=None):
    return conversion_record_from_postback(
        gk_click_id=click.gk_click_id,
        event_code=event.code,
        transaction_id=txn,
        token=click.offer.postback_secret,
        now=now,
    )


def test_the_tally_equals_a_full_count_after_every_kind_of_change(
    offer_factory,
    offer_event_factory,
    click_factory,
    partner_factory,
    admin_user,
    tmp_path,
    settings,
):
    settings.MEDIA_ROOT = tmp_path / "media"
    # Given conversions recorded by postbacks on three kinds of offer, over several hours
    partners = partner_factory.create_batch(2)
    automatic = offer_factory()
    manual = offer_factory(rewarding_mode=Offer.RewardingMode.MANUAL)
    waiting = offer_factory(pending_time=timedelta(days=7))
    now = timezone.now()
    recorded = []
    for n, offer in enumerate([automatic, manual, waiting] * 4):
        install = offer_event_factory(offer=offer, payout=Decimal("0.5000") + n)
        click = click_factory(offer=offer, partner=partners[n % 2])
        # Spread over the last 33 hours: compaction keeps by hour whatever was created since
        # midnight two days ago, which is at least 48 hours back at any time of day (55 hours
        # back made this test fail in the first hours of a UTC day).
        recorded.append(postback(click, install, f"T{n}", now=now - timedelta(hours=n * 3)))
    duplicate = postback(click, install, f"T{n}")
    assert duplicate.duplicate
    assert tallied() == counted()

    # When an admin changes some, one twice, and one to the status it has
    ids = [r.conversion_id for r in recorded]
    conversion_status_set(conversion_ids=ids[:5], status=Status.REJECTED, source=Source.ADMIN)
    conversion_status_set(conversion_ids=ids[:2], status=Status.SUCCESS, source=Source.ADMIN)
    conversion_status_set(conversion_ids=ids[:1], status=Status.SUCCESS, source=Source.ADMIN)
    assert tallied() == counted()

    # And an import applies a file
    clicks = Conversion.objects.filter(pk__in=ids[5:9]).select_related("click")
    path = tmp_path / "statuses.csv"
    path.write_bytes(
        csv_bytes([HEADER, *[[c.click.gk_click_id, c.pk, "Rejected", "dispute"] for c in clicks]])
    )
    job = imports.import_job_create(
        user=admin_user, upload=path, original_name=path.name, queue_validation=False
    )
    job = change_sets.import_job_validate(import_job=job)
    change_sets.import_job_confirm(
        import_job=job, user=admin_user, send_callbacks=True, queue_apply=False
    )
    job = change_sets.import_job_apply(import_job=job)
    assert job.state == "applied", job.error_message
    assert tallied() == counted()

    # And the pending time of the waiting offer passes
    promoted = conversions_pending_promote(now=now + timedelta(days=8))
    assert promoted
    assert tallied() == counted()

    # Then compaction leaves one row per key, with the same sums
    rows_before = ConversionTally.objects.count()
    assert conversion_tallies_compact(now=now) > 0
    assert ConversionTally.objects.count() < rows_before
    assert ConversionTally.objects.count() == len(counted())
    assert tallied() == counted()
    assert conversion_tallies_compact(now=now) == 0

    # And once their hours are folded into days (conversions created before the last two
    # days), the tally still equals a count by day
    conversion_status_set(conversion_ids=ids[5:7], status=Status.SUCCESS, source=Source.ADMIN)
    conversion_tallies_compact(now=now + timedelta(days=10))
    assert set(ConversionTally.objects.values_list("hour__hour", flat=True)) == {0}
    assert tallied(TruncDay) == counted(TruncDay)
    assert ConversionTally.objects.count() == len(counted(TruncDay))
    audit_trail_assert_unbroken()


def test_a_postback_writes_one_tally_row(offer_event_factory, click_factory):
    event = offer_event_factory(payout=Decimal("1.25"), revenue=Decimal("2.00"))
    click = click_factory(offer=event.offer)
    hour_before = timezone.now().replace(minute=0, second=0, microsecond=0)

    postback(click, event, "T-1")

    row = ConversionTally.objects.get()
    assert (row.status, row.conversions, row.payout, row.revenue) == (
        Status.SUCCESS,
        1,
        Decimal("1.25"),
        Decimal("2.00"),
    )
    # The hour it was recorded in (the clock may have turned an hour meanwhile)
    assert row.hour in {hour_before, timezone.now().replace(minute=0, second=0, microsecond=0)}
