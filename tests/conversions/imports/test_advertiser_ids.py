"""The advertiser's ids in a status file (issue 23, item 3): a row names its conversion by
``TransactionId`` with ``OfferId``; ids a row fills beside its most specific one must agree; a
header naming one column twice is refused before any row is staged."""

from io import StringIO

import pytest
from django.core.management import call_command

from conversions.models import ImportJob, Status
from tests.audit import assert_audit_intact
from tests.conversions.factories import changes_since_recorded
from tests.conversions.imports.status_files import rejected_rows, status_file

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("import_media_root")]

IDS_HEADER = ["TransactionId", "OfferId", "Status", "Reason"]


def statuses(*conversions):
    for conversion in conversions:
        conversion.refresh_from_db()
    return tuple(conversion.status for conversion in conversions)


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_a_file_keyed_by_transaction_id_and_offer_applies_to_those_conversions(
    tmp_path, import_applied, conversion_factory, offer_factory, file_format
):
    # The same transaction id on two offers: the offer says which conversion is meant.
    first = conversion_factory(transaction_id="ORD-1001", click__offer=offer_factory())
    second = conversion_factory(transaction_id="ORD-1001", click__offer=offer_factory())
    third = conversion_factory(transaction_id="ORD-1002", click__offer=second.offer)
    rows = [
        IDS_HEADER,
        ["ORD-1001", first.offer_id, "Rejected", "chargeback"],
        ["ORD-1001", second.offer_id, "Success", ""],
        ["ORD-9999", third.offer_id, "Success", ""],
        ["ORD-1002", "", "Success", ""],
    ]

    job = import_applied(status_file(tmp_path, rows, file_format))

    assert job.state == ImportJob.State.APPLIED
    assert (job.summary["rows"], job.summary["not_found"], job.summary["invalid"]) == (4, 1, 1)
    assert job.summary["applied"] == {"pending->rejected": 1, "pending->success": 1}
    assert job.summary["errors"] == [
        {
            "row": 4,
            "message": f"No conversion of offer {third.offer_id} has TransactionId ORD-9999.",
        },
        {
            "row": 5,
            "message": "TransactionId is filled in but OfferId is not: transaction ids are "
            "unique per offer only.",
        },
    ]
    assert statuses(first, second, third) == (
        Status.REJECTED,
        Status.SUCCESS,
        Status.PENDING,
    )
    assert changes_since_recorded().get(conversion=first).reason == "chargeback"
    assert changes_since_recorded().count() == 2
    report = rejected_rows(job)
    assert report[0] == [
        "Row",
        "gk_click_id",
        "EventId",
        "Status",
        "Reason",
        "TransactionId",
        "OfferId",
        "Problem",
    ]
    assert [row[:1] + row[3:7] for row in report[1:]] == [
        ["4", "Success", "", "ORD-9999", str(third.offer_id)],
        ["5", "Success", "", "ORD-1002", ""],
    ]
    assert_audit_intact()


def test_ids_that_disagree_refuse_their_row_and_the_rest_applies(
    tmp_path, import_applied, conversion_factory
):
    target, other, good = conversion_factory(), conversion_factory(), conversion_factory()
    rows = [
        ["gk_click_id", "EventId", "Transaction ID", "Offer ID", "Status"],
        ["", good.pk, good.transaction_id, good.offer_id, "Success"],
        ["", target.pk, other.transaction_id, target.offer_id, "Rejected"],
        [other.click.gk_click_id, "", target.transaction_id, target.offer_id, "Rejected"],
        ["", target.pk, "", other.offer_id, "Rejected"],
        [other.click.gk_click_id, "", "", target.offer_id, "Rejected"],
    ]

    job = import_applied(status_file(tmp_path, rows))

    assert job.summary["invalid"] == 4
    assert job.summary["errors"] == [
        {
            "row": 3,
            "message": f"EventId {target.pk} has TransactionId {target.transaction_id}, "
            f"not {other.transaction_id}.",
        },
        {
            "row": 4,
            "message": f"TransactionId {target.transaction_id} of offer {target.offer_id} is "
            f"EventId {target.pk}, of click {target.click.gk_click_id}, "
            f"not of {other.click.gk_click_id}.",
        },
        {
            "row": 5,
            "message": f"EventId {target.pk} is on offer {target.offer_id}, "
            f"not on offer {other.offer_id}.",
        },
        {
            "row": 6,
            "message": f"Click {other.click.gk_click_id} is on offer {other.offer_id}, "
            f"not on offer {target.offer_id}.",
        },
    ]
    assert job.summary["applied"] == {"pending->success": 1}
    assert statuses(target, other, good) == (
        Status.PENDING,
        Status.PENDING,
        Status.SUCCESS,
    )
    assert_audit_intact()


@pytest.mark.parametrize("file_format", ["csv", "xlsx", "xls"])
@pytest.mark.parametrize(
    ("header", "message"),
    [
        (
            ["gk_click_id", "Status", "EventId", "status"],
            "The header row names the Status column twice: “Status” (column B) and “status” "
            "(column D).",
        ),
        (
            ["EventId", "Status", "Reason", "event id"],
            "The header row names the EventId column twice: “EventId” (column A) and "
            "“event id” (column D).",
        ),
        (
            ["ID", "Status", "Conversion ID"],
            "The header row names the EventId column twice: “ID” (column A) and "
            "“Conversion ID” (column C).",
        ),
    ],
)
def test_a_header_naming_a_column_twice_is_refused_before_any_row_is_staged(
    tmp_path, import_validated, conversion_factory, file_format, header, message
):
    conversion = conversion_factory()
    row = {"Status": "Rejected", "status": "Success", "Reason": "x"}
    cells = [row.get(name, conversion.pk) for name in header]

    job = import_validated(status_file(tmp_path, [header, cells], file_format))

    assert job.state == ImportJob.State.INVALID
    assert job.error_message.startswith(message)
    assert "delete or rename one of them" in job.error_message
    assert not job.summary.get("rows")
    conversion.refresh_from_db()
    assert conversion.status == Status.PENDING
    assert not changes_since_recorded().exists()


def test_a_transaction_id_column_without_offer_id_is_refused(tmp_path, import_validated):
    job = import_validated(status_file(tmp_path, [["TransactionId", "Status"], ["T1", "Success"]]))
    assert job.state == ImportJob.State.INVALID
    assert job.error_message.startswith(
        "The header row has a TransactionId column (“TransactionId”) but no OfferId"
    )


def test_the_command_applies_a_file_keyed_by_transaction_id(
    tmp_path, conversion_factory, admin_user
):
    conversion = conversion_factory(transaction_id="-ORD-7")  # exported as '-ORD-7
    path = status_file(
        tmp_path, [IDS_HEADER, ["'-ORD-7", conversion.offer_id, "Rejected", "fraud"]], "xls"
    )
    out = StringIO()

    call_command("import_statuses", str(path), "--user", "admin", stdout=out)

    assert "Applied: 1 conversions changed, Pending → Rejected: 1" in out.getvalue()
    conversion.refresh_from_db()
    assert (conversion.status, conversion.status_reason) == (Status.REJECTED, "fraud")
    assert_audit_intact()
