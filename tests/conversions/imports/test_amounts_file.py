"""Amounts in the status file (issue 23, item 2): ``Payout`` and ``Revenue`` columns, with or
without a ``Status``, set a conversion's amounts through the change-set engine. The preview
shows the money before and after, the audit rows record the amounts, partners whose payout
changed are owed a callback, the tally follows, and the revert puts the amounts back."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count, Sum
from django.urls import reverse
from django.utils import timezone

from callbacks.models import CallbackDelivery
from callbacks.payloads import callback_payloads_render
from conversions.change_sets import services as change_sets
from conversions.models import Conversion, ImportJob, Source, Status, StatusChange
from conversions.selectors import conversion_totals_tallied
from conversions.services import conversion_status_set
from tests.audit import assert_audit_intact, audit_triggers_off
from tests.conversions.imports.status_files import rejected_rows, status_file

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("import_media_root")]

HEADER = ["EventId", "Status", "Payout", "Revenue", "Reason"]


@pytest.fixture
def three(conversion_factory, partner_factory, offer_event_factory):
    """Three conversions of one USD offer, payout 4.00 and revenue 6.00 each, of a partner
    that wants Success callbacks: Success, Pending, Success."""
    partner = partner_factory(callback_url="http://127.0.0.1:9/cb")
    event = offer_event_factory(payout=Decimal("4"), revenue=Decimal("6"))
    made = [
        conversion_factory(
            click__offer=event.offer, click__partner=partner, offer_event=event, status=status
        )
        for status in (Status.SUCCESS, Status.PENDING, Status.SUCCESS)
    ]
    return made


def applied_by(user, job):
    """Confirm a checked job as ``user`` and apply it, as the worker would."""
    change_sets.import_job_confirm(
        import_job=job, user=user, send_callbacks=True, queue_apply=False
    )
    return change_sets.import_job_apply(import_job=job)


def revert_checked(applied, user):
    """The revert of an applied job, checked as the worker would."""
    revert = change_sets.import_job_revert(import_job=applied, user=user, queue_validation=False)
    return change_sets.import_job_validate(import_job=revert)


def amounts(*conversions):
    for conversion in conversions:
        conversion.refresh_from_db()
    return [(c.status, c.payout, c.revenue) for c in conversions]


def tally_matches_the_conversions():
    """The tally's totals per status (what the overview and the list's totals read) are what
    summing the conversions gives."""
    counted = {
        row["status"]: (row["n"], row["payout"], row["revenue"])
        for row in Conversion.objects.values("status").annotate(
            n=Count("pk"), payout=Sum("payout"), revenue=Sum("revenue")
        )
    }
    for status, (n, payout, revenue) in counted.items():
        tallied = conversion_totals_tallied(status=status)
        currency = next(iter(tallied.payout))
        assert (tallied.conversions, tallied.payout[currency], tallied.revenue[currency]) == (
            n,
            payout,
            revenue,
        )


def test_an_amounts_file_previews_the_money_before_and_after_and_applies_it(
    tmp_path, import_validated, admin_user, admin_client, three
):
    first, second, third = three
    rows = [
        HEADER,
        [first.pk, "", "5.50", "", "Advertiser statement March"],  # payout only
        [second.pk, "Success", "", "8", ""],  # status and revenue
        [third.pk, "", "4.0000", "", ""],  # what it has already
    ]

    job = import_validated(status_file(tmp_path, rows))

    assert job.state == ImportJob.State.VALIDATED, job.error_message
    summary = job.summary
    assert summary["will_change"] == {"pending->success": 1, "success->success": 1}
    assert (summary["unchanged"], summary["amounts"], summary["rejected_rows"]) == (1, 2, 0)
    money = summary["money"]
    assert [(line["label"], line["payout"], line["revenue"]) for line in money["transitions"]] == [
        ("pending->success", "4.0000", "8.0000"),
        ("success->success", "1.5000", "0"),
    ]
    (line,) = money["amounts"]
    assert (line["currency"], line["amount_changes"]) == ("USD", 2)
    assert (line["payout_before"], line["payout_after"]) == ("8.0000", "9.5000")
    assert (line["revenue_before"], line["revenue_after"]) == ("12.0000", "14.0000")
    # Both changes owe the partner a callback: one to Success, one of a Success payout.
    assert [p["callbacks"] for p in money["by_partner"]] == [2]

    job = applied_by(admin_user, job)

    assert job.state == ImportJob.State.APPLIED, job.error_message
    assert job.summary["applied"] == {"pending->success": 1, "success->success": 1}
    # A change of amounts alone moves no status: nothing was changed by someone else.
    assert job.summary["changed_since_preview"] == 0
    assert amounts(first, second, third) == [
        (Status.SUCCESS, Decimal("5.5"), Decimal("6")),
        (Status.SUCCESS, Decimal("4"), Decimal("8")),
        (Status.SUCCESS, Decimal("4"), Decimal("6")),
    ]
    change = StatusChange.objects.get(conversion=first, import_job=job)
    assert (change.old_status, change.new_status, change.reason) == (
        Status.SUCCESS,
        Status.SUCCESS,
        "Advertiser statement March",
    )
    assert (change.payout, change.revenue) == (Decimal("5.5"), Decimal("6"))
    assert not StatusChange.objects.filter(conversion=third, import_job=job).exists()
    history = admin_client.get(reverse("admin:conversions_conversion_change", args=[first.pk])).text
    assert "payout 4.00 → 5.50, revenue 6.00 → 6.00 USD" in history
    assert history.count("gk-history-amounts") == 1
    # The partner hears the new payout under the next change number.
    deliveries = CallbackDelivery.objects.filter(status_change__import_job=job)
    payloads = callback_payloads_render(delivery_ids=[d.pk for d in deliveries])
    sent = {
        payload["conversion"]["conversionId"]: (
            payload["conversion"]["payout"],
            payload["conversion"]["statusChangeNumber"],
        )
        for payload in payloads.values()
    }
    assert sent == {first.pk: ("5.5000", 2), second.pk: ("4.0000", 2)}
    tally_matches_the_conversions()
    assert conversion_totals_tallied(status=Status.SUCCESS).payout == {"USD": Decimal("13.5")}
    assert_audit_intact()


def test_a_callback_owed_before_an_amount_change_says_the_payout_of_its_own_change(
    tmp_path, import_applied, three
):
    first = three[0]
    job = import_applied(status_file(tmp_path, [HEADER, [first.pk, "", "7", "", ""]]))
    assert job.state == ImportJob.State.APPLIED, job.error_message

    # The first status's callback, rendered only now (a replay, or an outbox that waited).
    first_change = StatusChange.objects.get(conversion=first, sequence_number=1)
    delivery = CallbackDelivery.objects.create(
        conversion=first,
        partner_id=first.partner_id,
        status_change=first_change,
        sequence_number=1,
        next_attempt_at=timezone.now(),
        created_at=timezone.now(),
    )
    payload = callback_payloads_render(delivery_ids=[delivery.pk])[delivery.pk]

    assert payload["conversion"]["payout"] == "4.0000"
    assert_audit_intact()


def test_the_revert_puts_the_amounts_back_to_the_cent(tmp_path, import_applied, admin_user, three):
    first, second, third = three
    rows = [
        HEADER,
        [first.pk, "", "5.5125", "6.01", ""],
        [second.pk, "Success", "0", "", ""],  # Impact's way of reversing: amount 0
    ]
    applied = import_applied(status_file(tmp_path, rows))
    assert applied.state == ImportJob.State.APPLIED, applied.error_message
    before_revert = conversion_totals_tallied(status=Status.SUCCESS)
    assert before_revert.payout == {"USD": Decimal("9.5125")}

    revert = revert_checked(applied, admin_user)

    assert revert.summary["will_change"] == {"success->pending": 1, "success->success": 1}
    assert revert.summary["amounts"] == 2
    (line,) = revert.summary["money"]["amounts"]
    assert (line["payout_before"], line["payout_after"]) == ("5.5125", "8.0000")
    assert (line["revenue_before"], line["revenue_after"]) == ("12.0100", "12.0000")
    revert = applied_by(admin_user, revert)

    assert revert.state == ImportJob.State.APPLIED, revert.error_message
    assert amounts(first, second, third) == [
        (Status.SUCCESS, Decimal("4"), Decimal("6")),
        (Status.PENDING, Decimal("4"), Decimal("6")),
        (Status.SUCCESS, Decimal("4"), Decimal("6")),
    ]
    assert conversion_totals_tallied(status=Status.SUCCESS).payout == {"USD": Decimal("8")}
    tally_matches_the_conversions()
    assert_audit_intact()


def test_the_revert_leaves_a_conversion_whose_amounts_changed_since(
    tmp_path, import_applied, admin_user, three
):
    first, second, _ = three
    applied = import_applied(
        status_file(tmp_path, [HEADER, [first.pk, "", "5", "", ""], [second.pk, "", "5", "", ""]])
    )
    import_applied(status_file(tmp_path, [HEADER, [first.pk, "", "9", "", ""]], name="later.csv"))

    revert = revert_checked(applied, admin_user)

    assert (revert.summary["left_alone"], revert.summary["staged"]) == (1, 1)
    applied_by(admin_user, revert)
    assert [payout for _, payout, _ in amounts(first, second)] == [Decimal("9"), Decimal("4")]
    assert_audit_intact()


def test_a_conversion_whose_status_moved_since_the_preview_keeps_its_amounts(
    tmp_path, import_validated, admin_user, three
):
    first, second, _ = three
    job = import_validated(
        status_file(tmp_path, [HEADER, [first.pk, "", "5", "", ""], [second.pk, "", "5", "", ""]])
    )
    conversion_status_set(
        conversion_ids=[first.pk], status=Status.REJECTED, source=Source.ADMIN, user=admin_user
    )

    job = applied_by(admin_user, job)

    assert (job.summary["applied_total"], job.summary["changed_since_preview"]) == (1, 1)
    assert amounts(first, second) == [
        (Status.REJECTED, Decimal("4"), Decimal("6")),
        (Status.PENDING, Decimal("5"), Decimal("6")),
    ]
    assert_audit_intact()


def test_a_conversion_recorded_before_audit_rows_had_amounts_gets_them_back_too(
    tmp_path, import_applied, admin_user, three
):
    # Its first audit row as written before migration 0027: no amounts, hashed as version 1.
    first = three[0]
    with audit_triggers_off(), connection.cursor() as cursor:
        cursor.execute(
            """WITH legacy AS (
                   UPDATE conversions_statuschange SET payout = NULL, revenue = NULL,
                       chain_hash = conversions_status_change_hash(
                           conversion_id => conversion_id, sequence_number => sequence_number,
                           old_status => old_status, new_status => new_status,
                           source => source, user_id => user_id,
                           import_job_id => import_job_id,
                           callbacks_suppressed => callbacks_suppressed,
                           callback_owed => callback_owed, created_at => created_at,
                           reason => reason, previous_hash => NULL)
                   WHERE conversion_id = %s RETURNING chain_hash)
               UPDATE conversions_conversion SET audit_chain_hash = legacy.chain_hash
               FROM legacy WHERE id = %s""",
            [first.pk, first.pk],
        )
    assert_audit_intact()
    applied = import_applied(status_file(tmp_path, [HEADER, [first.pk, "", "7.25", "", ""]]))

    revert = revert_checked(applied, admin_user)
    applied_by(admin_user, revert)

    assert amounts(first) == [(Status.SUCCESS, Decimal("4"), Decimal("6"))]
    assert_audit_intact()


def test_the_command_line_prints_the_amount_changes(tmp_path, three):
    out = StringIO()
    path = status_file(tmp_path, [HEADER, [three[0].pk, "", "5", "7", ""]])

    call_command("import_statuses", str(path), "--dry-run", stdout=out)

    assert "Moves: Success, amounts only: 1 conversions, +1.00 USD payout" in out.getvalue()
    assert (
        "Amounts: 1 conversions, payout 4.00 USD → 5.00 USD, revenue 6.00 USD → 7.00 USD"
        in out.getvalue()
    )
    assert_audit_intact()


def test_a_raise_and_a_cut_that_cancel_out_still_need_a_second_person(
    tmp_path, import_validated, settings, conversion_factory, offer_event_factory
):
    settings.IMPORT_APPROVAL_MIN_PAYOUT = "USD:5000"
    event = offer_event_factory(payout=Decimal("3000"), revenue=Decimal("3500"))
    up, down = (
        conversion_factory(click__offer=event.offer, offer_event=event, status=Status.SUCCESS)
        for _ in range(2)
    )
    rows = [HEADER, [up.pk, "", "6000", "", ""], [down.pk, "", "0", "", ""]]

    job = import_validated(status_file(tmp_path, rows))

    assert job.approval_required
    assert "it moves 6,000.00 USD of payout (approval from 5,000.00 USD)" in job.approval_reason
    assert_audit_intact()


def test_amounts_that_are_not_money_are_refused_naming_the_row(tmp_path, import_validated, three):
    first, second, third = three
    rows = [
        ["EventId", "Payout", "Revenue"],
        [first.pk, "1,234.50", ""],
        [second.pk, "", "-5"],
        [third.pk, "$5", ""],
        [first.pk, "", ""],
        [second.pk, "1E3", ""],
        [third.pk, "123456789", ""],
    ]

    job = import_validated(status_file(tmp_path, rows))

    assert job.state == ImportJob.State.INVALID, job.error_message
    assert [(e["row"], e["message"]) for e in job.summary["errors"]] == [
        (
            2,
            "Payout “1,234.50” has thousands separators; write the number without them, "
            "like 1234.50.",
        ),
        (3, "Revenue “-5” is negative; amounts are 0 or more."),
        (
            4,
            "Payout “$5” has a currency; write the number alone (the offer's currency "
            "applies), like 1234.50.",
        ),
        (
            5,
            "Nothing to change: Payout and Revenue are all empty. Fill in a status or an "
            "amount, or delete the row.",
        ),
        (
            6,
            "Payout “1E3” is in scientific notation; format the cell as a number with its "
            "decimals shown, like 1234.50.",
        ),
        (
            7,
            "Payout “123456789” has 9 digits before the decimal point; amounts have at most 8 "
            "(up to 99,999,999.9999).",
        ),
    ]
    report = rejected_rows(job)
    assert report[0] == [
        "Row",
        "gk_click_id",
        "EventId",
        "Status",
        "Reason",
        "Payout",
        "Revenue",
        "Problem",
    ]
    assert report[1][5:7] == ["1,234.50", ""]
    assert job.summary["will_change_total"] == 0
    assert_audit_intact()


def test_two_rows_asking_one_conversion_for_different_amounts_are_both_refused(
    tmp_path, import_validated, three
):
    first, second, _ = three
    rows = [
        HEADER,
        [first.pk, "", "5", "", ""],
        [second.pk, "", "5", "", ""],
        [first.pk, "", "6", "", ""],
    ]

    job = import_validated(status_file(tmp_path, rows))

    assert [(e["row"], e["message"]) for e in job.summary["errors"]] == [
        (
            row,
            f"Conversion {first.pk} is asked for different amounts in this file (rows 2 and "
            "4); none of those rows is applied.",
        )
        for row in (2, 4)
    ]
    assert job.summary["will_change"] == {"pending->pending": 1}
    assert_audit_intact()


def test_a_header_naming_payout_twice_is_refused(tmp_path, import_validated, three):
    rows = [["EventId", "Payout", "payout"], [three[0].pk, "5", "6"]]

    job = import_validated(status_file(tmp_path, rows))

    assert job.state == ImportJob.State.INVALID
    assert job.error_message.startswith(
        "The header row names the Payout column twice: “Payout” (column B) and “payout” (column C)."
    )
    assert_audit_intact()
