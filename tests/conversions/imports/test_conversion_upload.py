"""Conversions that tracking missed, uploaded from a file (issue 23, item 1): the preview counts
the new conversions and refuses each row a postback would be refused for, naming it; applying
records each with source "manual upload", its audit row, callback and tally row; the revert
rejects them, deleting nothing."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from callbacks.models import CallbackDelivery
from conversions.change_sets import services as change_sets
from conversions.imports import services
from conversions.models import (
    Click,
    Conversion,
    ConversionTally,
    ImportJob,
    Offer,
    Source,
    Status,
    StatusChange,
)
from tests.audit import assert_audit_intact
from tests.conversions.imports.status_files import rejected_rows, status_file

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("import_media_root")]

HEADER = ["ClickId", "EventID", "UserCompletedAt", "Revenue", "Reward", "TransactionId"]


@pytest.fixture
def upload_checked(import_media_root, admin_user):
    def run(path, *, user=admin_user):
        job = services.import_job_create(
            user=user,
            upload=path,
            original_name=path.name,
            queue_validation=False,
            kind=ImportJob.Kind.UPLOAD,
        )
        return change_sets.import_job_validate(import_job=job)

    return run


@pytest.fixture
def upload_applied(upload_checked, admin_user):
    def run(path, *, user=admin_user):
        job = upload_checked(path, user=user)
        assert job.state == ImportJob.State.VALIDATED, (job.error_message, job.summary)
        change_sets.import_job_confirm(
            import_job=job, user=user, send_callbacks=True, queue_apply=False
        )
        return change_sets.import_job_apply(import_job=job)

    return run


@pytest.fixture
def past_click(click_factory):
    """A click made two days ago (``created_at`` is set on insert: moved back afterwards)."""

    def make(**fields):
        click = click_factory(**fields)
        Click.objects.filter(pk=click.pk).update(created_at=click.created_at - timedelta(days=2))
        click.refresh_from_db()
        return click

    return make


def at(click, minutes):
    return (click.created_at + timedelta(minutes=minutes)).strftime("%Y-%m-%d %H:%M:%S")


@pytest.mark.parametrize("file_format", ["csv", "xlsx", "xls"])
def test_an_upload_records_each_conversion_as_a_postback_would(
    tmp_path, upload_applied, offer_event_factory, past_click, file_format
):
    install = offer_event_factory(code="install")
    deposit = offer_event_factory(code="deposit", offer=install.offer)
    click = past_click(offer=install.offer)
    rows = [
        HEADER + ["Status", "Reason"],
        [click.gk_click_id, "install", at(click, 5), "2.50", "1.25", "ORD-1", "", ""],
        [click.gk_click_id, "deposit", at(click, 60), "40", "0.0125", "ORD-2", "Pending", "KYC"],
    ]

    job = upload_applied(status_file(tmp_path, rows, file_format))

    assert job.state == ImportJob.State.APPLIED, job.error_message
    assert job.summary["applied"] == {"->pending": 1, "->success": 1}
    first, second = Conversion.objects.filter(click=click).order_by("offer_event_id")
    assert (first.offer_event_id, first.status, first.status_source) == (
        install.pk,
        Status.SUCCESS,
        Source.MANUAL_UPLOAD,
    )
    assert (first.payout, first.revenue, first.transaction_id) == (
        Decimal("1.25"),
        Decimal("2.5"),
        "ORD-1",
    )
    assert first.created_at == click.created_at.replace(microsecond=0) + timedelta(minutes=5)
    assert (second.offer_event_id, second.status, second.status_reason) == (
        deposit.pk,
        Status.PENDING,
        "KYC",
    )
    assert second.payout == Decimal("0.0125")
    audit = StatusChange.objects.filter(import_job=job).order_by("conversion_id")
    assert [(a.old_status, a.new_status, a.source, a.sequence_number) for a in audit] == [
        ("", Status.SUCCESS, Source.MANUAL_UPLOAD, 1),
        ("", Status.PENDING, Source.MANUAL_UPLOAD, 1),
    ]
    tally = ConversionTally.objects.filter(offer_id=install.offer_id)
    assert {(t.status, t.conversions) for t in tally} == {
        (Status.SUCCESS, 1),
        (Status.PENDING, 1),
    }
    assert_audit_intact()


def test_each_refused_row_is_named_and_the_others_are_recorded(
    tmp_path,
    upload_checked,
    offer_factory,
    offer_event_factory,
    past_click,
    conversion_factory,
):
    single = offer_event_factory(code="signup")
    several = offer_event_factory(code="install")
    offer_event_factory(code="deposit", offer=several.offer)
    click = past_click(offer=single.offer)
    other = past_click(offer=several.offer)
    taken = conversion_factory(
        click=past_click(offer=several.offer), offer_event=several, transaction_id="ORD-TAKEN"
    )
    future = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S")
    rows = [
        HEADER,
        [click.gk_click_id, "", at(click, 1), "2", "1", ""],  # 2: recorded
        ["nope", "", at(click, 1), "2", "1", ""],  # 3: unknown click
        [other.gk_click_id, "", at(other, 1), "2", "1", ""],  # 4: which event?
        [other.gk_click_id, "purchase", at(other, 1), "2", "1", ""],  # 5: unknown event
        [other.gk_click_id, "install", at(other, -10), "2", "1", ""],  # 6: before the click
        [other.gk_click_id, "install", future, "2", "1", ""],  # 7: future
        [other.gk_click_id, "install", at(other, 1), "1,234.50", "1", ""],  # 8: not money
        [other.gk_click_id, "install", "12/01/2026", "2", "1", ""],  # 9: not a time
        [taken.click.gk_click_id, taken.offer_event.code, at(taken.click, 1), "2", "1", ""],
        [other.gk_click_id, "deposit", at(other, 1), "2", "1", "ORD-TAKEN"],  # 11: tx used
        [other.gk_click_id, "install", at(other, 2), "2", "1", "ORD-9"],  # 12: recorded
        [other.gk_click_id, "install", at(other, 3), "2", "1", ""],  # 13: repeats row 12
        [click.gk_click_id.lower() + "x", "", at(click, 1), "-2", "1", ""],  # 14: negative
    ]

    job = upload_checked(status_file(tmp_path, rows))

    assert job.state == ImportJob.State.VALIDATED, job.error_message
    assert (job.summary["rows"], job.summary["will_change_total"]) == (13, 2)
    messages = {error["row"]: error["message"] for error in job.summary["errors"]}
    offer = several.offer_id
    assert messages == {
        3: "No click has gk_click_id nope.",
        4: f"Offer {offer} has 2 events (install, deposit): name one in EventID.",
        5: f"Offer {offer} has no event purchase (its events: install, deposit).",
        6: f"UserCompletedAt {at(other, -10)} UTC is before the click "
        f"({other.created_at:%Y-%m-%d %H:%M:%S} UTC).",
        7: f"UserCompletedAt {future} UTC is in the future.",
        8: "Revenue “1,234.50” has thousands separators; write the number without them, "
        "like 1234.50.",
        9: "UserCompletedAt “12/01/2026” is not a date and time; write it as 2026-12-01 "
        "10:00:00 (UTC), or ISO 8601 with its offset (+02:00, Z).",
        10: f"Click {taken.click.gk_click_id} already has a conversion of that event (EventId "
        f"{taken.pk}): a click converts once per event.",
        11: f"TransactionId ORD-TAKEN is already used on offer {offer} (EventId {taken.pk}).",
        13: "Row 12 records this click's event already: a click converts once per event.",
        14: "Revenue “-2” is negative; amounts are 0 or more.",
    }
    assert (job.summary["not_found"], job.summary["invalid"], job.summary["conflicting"]) == (
        2,
        6,
        3,
    )
    report = rejected_rows(job)
    assert report[0] == [
        "Row",
        "ClickId",
        "EventID",
        "UserCompletedAt",
        "Revenue",
        "Reward",
        "TransactionId",
        "Status",
        "Reason",
        "Problem",
    ]
    assert [line[0] for line in report[1:]] == [str(row) for row in sorted(messages)]
    assert report[2][1:3] == [other.gk_click_id, ""]  # row 4
    assert Conversion.objects.count() == 1  # nothing recorded before the confirmation
    assert job.summary["money"]["transitions"] == [
        {
            "label": "->success",
            "currency": "USD",
            "conversions": 2,
            "payout": "2.0000",
            "revenue": "4.0000",
            "key": None,
            "callbacks": 0,
            "gross_payout": "2.0000",
            # New conversions: no amounts change.
            "amount_changes": 0,
            "payout_before": "0",
            "payout_after": "0",
            "revenue_before": "0",
            "revenue_after": "0",
        }
    ]


def test_without_a_status_a_row_gets_what_the_offer_gives_a_postback(
    tmp_path, upload_applied, offer_event_factory, past_click
):
    manual = offer_event_factory(offer__rewarding_mode=Offer.RewardingMode.MANUAL)
    waiting = offer_event_factory(offer__pending_time=timedelta(days=7))
    closed = offer_event_factory(offer__is_active=False)
    late = offer_event_factory(offer__attribution_window=timedelta(hours=1))
    clicks = [past_click(offer=event.offer) for event in (manual, waiting, closed, late)]
    rows = [HEADER] + [[click.gk_click_id, "", at(click, 120), "1", "1", ""] for click in clicks]

    job = upload_applied(status_file(tmp_path, rows))

    recorded = {
        c.offer_id: (c.status, c.status_reason, c.pending_until is not None)
        for c in Conversion.objects.all()
    }
    assert recorded == {
        manual.offer_id: (Status.PENDING, "", False),
        waiting.offer_id: (Status.PENDING, "", True),
        closed.offer_id: (Status.REJECTED, "Offer is inactive.", False),
        late.offer_id: (
            Status.REJECTED,
            "Conversion is outside the offer's attribution window.",
            False,
        ),
    }
    assert job.summary["applied"] == {"->pending": 2, "->rejected": 2}
    # Their ids follow the file's rows.
    in_file_order = [clicks.index(c.click) for c in Conversion.objects.order_by("pk")]
    assert in_file_order == [0, 1, 2, 3]
    assert_audit_intact()


def test_the_revert_of_an_upload_rejects_its_conversions_and_deletes_nothing(
    tmp_path, upload_applied, admin_user, offer_event_factory, past_click
):
    event = offer_event_factory()
    clicks = [past_click(offer=event.offer) for _ in range(3)]
    rows = [HEADER + ["Status"]] + [
        [click.gk_click_id, "", at(click, 1), "3", "2", "", status]
        for click, status in zip(clicks, ["Success", "Pending", "Rejected"], strict=True)
    ]
    job = upload_applied(status_file(tmp_path, rows))

    revert = change_sets.import_job_revert(import_job=job, user=admin_user)
    revert = change_sets.import_job_validate(import_job=revert)
    assert revert.summary["will_change"] == {"pending->rejected": 1, "success->rejected": 1}
    assert revert.summary["unchanged"] == 1
    change_sets.import_job_confirm(
        import_job=revert, user=admin_user, send_callbacks=True, queue_apply=False
    )
    revert = change_sets.import_job_apply(import_job=revert)

    assert revert.state == ImportJob.State.APPLIED
    assert sorted(Conversion.objects.values_list("status", flat=True)) == [Status.REJECTED] * 3
    reasons = set(StatusChange.objects.filter(import_job=revert).values_list("reason", flat=True))
    assert reasons == {f"Revert of conversion upload {job.pk}"}
    assert_audit_intact()


def test_a_conversion_a_postback_recorded_meanwhile_wins(
    tmp_path, upload_checked, admin_user, offer_event_factory, past_click, conversion_factory
):
    event = offer_event_factory()
    first, second = past_click(offer=event.offer), past_click(offer=event.offer)
    rows = [HEADER] + [[c.gk_click_id, "", at(c, 1), "1", "1", ""] for c in (first, second)]
    job = upload_checked(status_file(tmp_path, rows))
    assert job.summary["will_change_total"] == 2
    late = conversion_factory(click=first, offer_event=event)  # the postback, after the check

    change_sets.import_job_confirm(
        import_job=job, user=admin_user, send_callbacks=True, queue_apply=False
    )
    job = change_sets.import_job_apply(import_job=job)

    assert job.state == ImportJob.State.APPLIED
    assert (job.summary["applied_total"], job.summary["changed_since_preview"]) == (1, 1)
    assert list(Conversion.objects.filter(click=first)) == [late]
    assert Conversion.objects.filter(click=second, status_source=Source.MANUAL_UPLOAD).exists()
    assert CallbackDelivery.objects.count() == 0  # the factory's partner has no callback URL
    assert_audit_intact()


def test_the_command_line_checks_and_records_an_upload(
    tmp_path, admin_user, offer_event_factory, past_click
):
    from io import StringIO

    from django.core.management import call_command

    event = offer_event_factory()
    click = past_click(offer=event.offer)
    path = status_file(tmp_path, [HEADER, [click.gk_click_id, "", at(click, 1), "9", "3", ""]])
    out = StringIO()

    call_command("import_statuses", str(path), "--new-conversions", "--dry-run", stdout=out)
    assert "New conversions: 1\n  New → Success: 1\n" in out.getvalue()
    assert not Conversion.objects.exists()

    call_command("import_statuses", str(path), "--new-conversions", "--user", "admin", stdout=out)
    created = Conversion.objects.get()
    assert (created.click_id, created.status, created.payout) == (
        click.pk,
        Status.SUCCESS,
        Decimal("3"),
    )
    assert StatusChange.objects.get(conversion=created).user == admin_user
    assert_audit_intact()
