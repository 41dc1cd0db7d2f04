"""Validation: the dry run's preview counts, the file rules, and the report of rejected rows."""

import csv
import io

import pytest

from conversions.imports import staging
from conversions.models import Conversion, Status
from tests.conversions.factories import changes_since_recorded
from tests.conversions.imports.status_files import HEADER, status_file

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("import_media_root")]


@pytest.fixture
def catalogue(offer_event_factory, click_factory, conversion_factory):
    """A multi-event offer: a click with two conversions (install, purchase), and three
    single conversions of other clicks."""
    install = offer_event_factory(code="install")
    purchase = offer_event_factory(code="purchase", offer=install.offer)
    click = click_factory(offer=install.offer)
    return {
        "offer": install.offer,
        "click": click,
        "install": conversion_factory(click=click, offer_event=install),
        "purchase": conversion_factory(click=click, offer_event=purchase),
        "pending": conversion_factory(status=Status.PENDING),
        "success": conversion_factory(status=Status.SUCCESS),
        "contested": conversion_factory(status=Status.PENDING),
    }


@pytest.fixture(params=["look-ups", "planner"])
def join_choice(request, monkeypatch):
    """Both ways the rows are joined to conversions: by index look-ups (files of up to
    ``SMALL_FILE_ROWS`` rows) and as PostgreSQL plans it (larger files)."""
    if request.param == "planner":
        monkeypatch.setattr(staging, "SMALL_FILE_ROWS", 0)
    return request.param


def statuses():
    return dict(Conversion.objects.values_list("pk", "status"))


def report_rows(job):
    with job.error_report.open("rb") as report:
        return list(csv.reader(io.StringIO(report.read().decode("utf-8-sig"))))


def test_preview_counts_every_kind_of_row_and_changes_nothing(
    tmp_path, import_validated, catalogue, join_choice
):
    c = catalogue
    before = statuses()
    path = status_file(
        tmp_path,
        [
            HEADER,
            ["", c["pending"].pk, "success", "advertiser confirmed"],  # row 2: will change
            [c["success"].click.gk_click_id, c["success"].pk, "Success", ""],  # 3: unchanged
            [c["click"].gk_click_id, "", "REJECTED", "fraud"],  # 4: fans out to 2
            ["", 999_999_999, "Success", ""],  # 5: not found
            ["", c["pending"].pk + 1_000_000, "Paid", ""],  # 6: invalid status
            ["", c["contested"].pk, "Success", ""],  # 7: conflicting
            ["", c["contested"].pk, "Rejected", ""],  # 8: conflicting
            ["", "", "", ""],  # blank: skipped
        ],
    )

    job = import_validated(path)

    assert job.state == "validated"
    summary = job.summary
    assert summary["rows"] == 7
    assert summary["will_change"] == {"pending->rejected": 2, "pending->success": 1}
    assert summary["will_change_total"] == 3
    assert summary["unchanged"] == 1
    assert (summary["not_found"], summary["invalid"], summary["conflicting"]) == (1, 1, 2)
    assert summary["fan_out"] == [
        {"offer": c["offer"].name, "offer_id": c["offer"].pk, "click_rows": 1, "conversions": 2}
    ]
    assert [error["row"] for error in summary["errors"]] == [5, 6, 7, 8]
    assert summary["errors"][0]["message"] == "No conversion has EventId 999999999."
    assert "“Paid” is not one of Pending, Success, Rejected" in summary["errors"][1]["message"]
    assert (
        "asked for different statuses in this file (rows 7 and 8)"
        in (summary["errors"][2]["message"])
    )
    assert statuses() == before
    assert not changes_since_recorded().exists()


@pytest.mark.parametrize("file_format", ["csv", "xlsx", "xls"])
def test_every_format_reads_the_same(tmp_path, import_validated, catalogue, file_format):
    c = catalogue
    path = status_file(
        tmp_path,
        [
            HEADER,
            [c["pending"].click.gk_click_id, c["pending"].pk, "Success", ""],
            [c["click"].gk_click_id, "", "rejected", "fraud"],
            ["", "abc", "Success", ""],
        ],
        file_format,
    )

    job = import_validated(path)

    assert job.state == "validated", job.error_message
    assert job.file_format == file_format
    assert job.summary["will_change"] == {"pending->rejected": 2, "pending->success": 1}
    assert job.summary["invalid"] == 1
    assert job.summary["errors"] == [
        {"row": 4, "message": "EventId “abc” is not a conversion number."}
    ]


@pytest.mark.parametrize(
    "header",
    [
        ["GK Click ID", "event id", "STATUS", "reason"],
        ["gk click id", "Event_Id", " Status ", "Reason"],
        # The conversion report as exported, with extra columns around the ones that matter.
        ["ID", "Offer", "Click ID", "Status", "Reason", "Payout"],
    ],
)
def test_headers_match_ignoring_case_spaces_and_underscores(
    tmp_path, import_validated, catalogue, header
):
    conversion = catalogue["pending"]
    values = {
        "gkclickid": conversion.click.gk_click_id,
        "clickid": conversion.click.gk_click_id,
        "eventid": conversion.pk,
        "id": conversion.pk,
        "status": "Rejected",
        "reason": "chargeback",
        # The report's Payout as exported: what the conversion has (no amount changes).
        "payout": f"{conversion.payout}",
    }
    row = [values.get("".join(h.split()).replace("_", "").lower(), "x") for h in header]

    job = import_validated(status_file(tmp_path, [header, row]))

    assert job.state == "validated", job.error_message
    assert job.summary["will_change"] == {"pending->rejected": 1}


@pytest.mark.parametrize(
    ("delimiter", "bom"), [(",", False), (";", True), ("\t", False), (";", False)]
)
def test_csv_delimiter_and_byte_order_mark_are_detected(
    tmp_path, import_validated, catalogue, delimiter, bom
):
    conversion = catalogue["pending"]
    path = status_file(
        tmp_path,
        [HEADER, [conversion.click.gk_click_id, conversion.pk, "Success", "ok, finally"]],
        delimiter=delimiter,
        bom=bom,
    )

    job = import_validated(path)

    assert job.summary["will_change"] == {"pending->success": 1}
    assert job.summary["columns"]["gk_click_id"] == "gk_click_id"


def test_the_same_status_asked_twice_is_not_a_conflict(tmp_path, import_validated, catalogue):
    c = catalogue
    path = status_file(
        tmp_path,
        [
            HEADER,
            ["", c["install"].pk, "Success", "first"],
            [c["click"].gk_click_id, "", "success", "second"],
        ],
    )

    job = import_validated(path)

    assert job.summary["conflicting"] == 0
    assert job.summary["will_change"] == {"pending->success": 2}


def test_a_conflict_inside_a_fan_out_rejects_the_whole_click_row(
    tmp_path, import_validated, catalogue
):
    c = catalogue
    path = status_file(
        tmp_path,
        [
            HEADER,
            [c["click"].gk_click_id, "", "Rejected", ""],
            ["", c["purchase"].pk, "Success", ""],
            ["", c["pending"].pk, "Success", ""],
        ],
    )

    job = import_validated(path)

    assert job.summary["conflicting"] == 2
    assert job.summary["will_change"] == {"pending->success": 1}
    assert job.summary["fan_out"] == []


def test_an_event_id_of_another_click_is_refused(
    tmp_path, import_validated, catalogue, join_choice
):
    c = catalogue
    path = status_file(
        tmp_path,
        [
            HEADER,
            [c["click"].gk_click_id, c["pending"].pk, "Success", ""],
            [c["click"].gk_click_id, c["install"].pk, "Success", ""],
        ],
    )

    job = import_validated(path)

    assert job.summary["invalid"] == 1
    assert job.summary["errors"] == [
        {
            "row": 2,
            "message": f"EventId {c['pending'].pk} belongs to click "
            f"{c['pending'].click.gk_click_id}, not to {c['click'].gk_click_id}.",
        }
    ]
    assert job.summary["will_change"] == {"pending->success": 1}


def test_the_report_lists_every_rejected_row_with_its_original_values(
    tmp_path, import_validated, catalogue
):
    c = catalogue
    rows = [["Click ID", "ID", "Status", "Reason"]]
    rows.append(["", c["pending"].pk, "Success", ""])
    rows += [["", f"x{n}", "Success", f"row {n}"] for n in range(60)]
    rows.append(["", c["success"].pk, "=cmd|' /C calc'!A0", "-2+3"])

    job = import_validated(status_file(tmp_path, rows))

    assert job.summary["invalid"] == 61
    assert len(job.summary["errors"]) == 50
    report = report_rows(job)
    assert report[0] == ["Row", "Click ID", "ID", "Status", "Reason", "Problem"]
    assert len(report) == 62
    assert report[1] == [
        "3",
        "",
        "x0",
        "Success",
        "row 0",
        "EventId “x0” is not a conversion number.",
    ]
    # A formula-like value is written so that a spreadsheet shows it rather than runs it.
    assert report[-1][0] == "63"
    assert report[-1][3] == "'=cmd|' /C calc'!A0"
    assert report[-1][4] == "'-2+3"
    assert "holds a formula" in report[-1][5]


def test_a_file_with_nothing_applicable_is_invalid(tmp_path, import_validated, catalogue):
    path = status_file(
        tmp_path, [HEADER, ["", 999_999_999, "Success", ""], ["nope", "", "Success", ""]]
    )

    job = import_validated(path)

    assert job.state == "invalid"
    assert job.error_message.startswith("None of the 2 rows can be applied (2 not found")
    assert [row[0] for row in report_rows(job)[1:]] == ["2", "3"]
