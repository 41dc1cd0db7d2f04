"""Bad input: each case gets a message an admin can act on, and changes nothing."""

import io
import zipfile

import pytest
from django.core.exceptions import ValidationError

from conversions.imports import services
from conversions.models import Conversion, ImportJob, Status
from tests.conversions.factories import changes_since_recorded
from tests.conversions.imports.status_files import HEADER, status_file, xlsx_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("import_media_root")]


@pytest.fixture
def conversion(conversion_factory):
    return conversion_factory(status=Status.PENDING)


def upload(tmp_path, name, data, admin_user):
    path = tmp_path / name
    path.write_bytes(data)
    return services.import_job_create(
        user=admin_user, upload=path, original_name=name, queue_validation=False
    )


def refused(tmp_path, name, data, admin_user):
    with pytest.raises(ValidationError) as error:
        upload(tmp_path, name, data, admin_user)
    assert not ImportJob.objects.exists()
    return " ".join(error.value.messages)


def rezip(data, replace):
    """A copy of an XLSX with some parts replaced (name → bytes)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            target.writestr(item.filename, replace.get(item.filename, source.read(item.filename)))
    return out.getvalue()


# --- refused at upload ------------------------------------------------------------------------


def test_a_file_over_the_limit_is_refused(tmp_path, admin_user, settings):
    settings.IMPORT_MAX_UPLOAD_BYTES = 100
    message = refused(
        tmp_path, "big.csv", b"gk_click_id,Status\n" + b"x,Success\n" * 20, admin_user
    )
    assert "files of at most 100" in message
    assert "Split the rows into several files" in message


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("statuses.csv", b"", "The file is empty"),
        ("statuses.txt", b"gk_click_id,Status\n", "is not a CSV, XLS or XLSX file"),
        ("statuses.xlsx", b"gk_click_id,EventId,Status\nabc,1,Success\n", "really text (CSV)"),
        ("statuses.xlsx", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "really not a spreadsheet"),
        ("statuses.xls", b"gk_click_id;Status\nabc;Success\n", "really text"),
        ("statuses.csv", "gk_click_id,Status\n".encode("utf-16"), "UTF-16"),
        ("statuses.csv", b"PK\x03\x04rest-of-a-zip", "really an Excel workbook"),
    ],
)
def test_empty_wrong_or_disguised_files_are_refused(tmp_path, admin_user, name, data, expected):
    assert expected in refused(tmp_path, name, data, admin_user)


def test_a_zip_that_is_not_a_workbook_is_refused(tmp_path, admin_user):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("notes.txt", "hello")
    message = refused(tmp_path, "statuses.xlsx", out.getvalue(), admin_user)
    assert "not an Excel workbook (it has no xl/workbook.xml)" in message


def test_a_truncated_zip_is_refused_as_damaged(tmp_path, admin_user):
    data = xlsx_bytes([HEADER, ["abc", 1, "Success", ""]])
    message = refused(tmp_path, "statuses.xlsx", data[: len(data) // 2], admin_user)
    assert "This .xlsx file is damaged" in message


def test_a_bomb_by_ratio_is_refused_before_parsing(tmp_path, admin_user):
    data = xlsx_bytes([HEADER, ["abc", 1, "Success", ""]])
    bomb = rezip(data, {"xl/worksheets/sheet1.xml": b" " * (20 * 1024 * 1024)})
    assert len(bomb) < 100_000
    message = refused(tmp_path, "statuses.xlsx", bomb, admin_user)
    assert "possible zip bomb" in message
    assert "would inflate" in message


def test_a_bomb_by_total_size_is_refused(tmp_path, admin_user, settings):
    settings.IMPORT_XLSX_MAX_UNCOMPRESSED_BYTES = 4096
    data = xlsx_bytes([HEADER] + [[f"click-{n}", n, "Success", "x" * 50] for n in range(100)])
    message = refused(tmp_path, "statuses.xlsx", data, admin_user)
    assert "possible zip bomb" in message
    assert "Keep only the columns" in message


# --- unusable at validation: the job is invalid, with the reason -------------------------------


def invalid_job(import_validated, path):
    job = import_validated(path)
    assert job.state == ImportJob.State.INVALID
    assert not changes_since_recorded().exists()
    return job


def test_a_header_only_file_is_invalid(tmp_path, import_validated):
    job = invalid_job(import_validated, status_file(tmp_path, [HEADER]))
    assert job.error_message.startswith("The file has a header row but no data rows.")


@pytest.mark.parametrize("file_format", ["csv", "xlsx", "xls"])
def test_missing_columns_are_named(tmp_path, import_validated, file_format):
    path = status_file(tmp_path, [["Click", "Reason"], ["abc", "x"]], file_format)
    job = invalid_job(import_validated, path)
    assert job.error_message.startswith(
        "The header row has no Status and no gk_click_id or EventId column."
    )
    assert "(found: “Click”, “Reason”)" in job.error_message


def test_a_csv_with_nothing_in_it_but_blank_lines_has_no_header(tmp_path, import_validated):
    path = tmp_path / "blank.csv"
    path.write_bytes(b"\r\n\r\n")
    job = invalid_job(import_validated, path)
    assert job.error_message.startswith("The file has no header row.")


def test_non_utf8_csv_names_the_row_and_says_how_to_save_as_utf8(
    tmp_path, import_validated, conversion
):
    rows = [HEADER, ["", conversion.pk, "Success", "ok"], ["", conversion.pk, "Success", "café"]]
    path = status_file(tmp_path, rows, encoding="latin-1")
    job = invalid_job(import_validated, path)
    assert job.error_message.startswith("Row 3 (line 3) is not valid UTF-8 text: byte 0xE9")
    assert "CSV UTF-8 (Comma delimited)" in job.error_message
    conversion.refresh_from_db()
    assert conversion.status == Status.PENDING


def test_an_unclosed_quote_swallowing_the_file_is_named(tmp_path, import_validated):
    path = tmp_path / "quote.csv"
    path.write_bytes(b'EventId,Status\n1,"Success\n' + b"2,Success\n" * 5)
    job = import_validated(path)
    # The quote would swallow the rows after it: the file is refused, naming where it opened.
    assert job.state == ImportJob.State.INVALID
    assert job.error_message.startswith("Row 2 (line 2) cannot be read as CSV: the quote")
    assert "column 2 (Status)" in job.error_message


def test_xml_entity_expansion_is_refused(tmp_path, import_validated):
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol3;</t></is></c></row>'
        b"</sheetData></worksheet>"
    )
    data = rezip(
        xlsx_bytes([HEADER, ["abc", 1, "Success", ""]]), {"xl/worksheets/sheet1.xml": laughs}
    )
    job = invalid_job(import_validated, status_file_raw(tmp_path, "lol.xlsx", data))
    assert "declares XML entities (a DTD)" in job.error_message


def test_a_corrupt_sheet_inside_a_sound_zip_is_damaged(tmp_path, import_validated):
    data = xlsx_bytes([HEADER] + [[f"click-{n}", n, "Success", ""] for n in range(200)])
    archive = zipfile.ZipFile(io.BytesIO(data))
    sheet = archive.getinfo("xl/worksheets/sheet1.xml")
    start = sheet.header_offset + 30 + len(sheet.filename.encode()) + len(sheet.extra)
    corrupt = bytearray(data)
    for offset in range(start + 20, start + sheet.compress_size - 20):
        corrupt[offset] ^= 0x5A
    job = invalid_job(import_validated, status_file_raw(tmp_path, "bad.xlsx", bytes(corrupt)))
    assert "This .xlsx file is damaged" in job.error_message


def status_file_raw(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- bad rows: rejected one by one, the rest applies ----------------------------------------


BAD_ROWS = {
    "unknown-status": (
        ["", "{pk}", "Paid", ""],
        "Status “Paid” is not one of Pending, Success, Rejected.",
    ),
    "empty-status": (["", "{pk}", "", ""], "Status is empty; use Pending, Success, Rejected."),
    "non-numeric-id": (["", "12abc", "Success", ""], "EventId “12abc” is not a conversion number."),
    "unknown-id": (["", "999999999", "Success", ""], "No conversion has EventId 999999999."),
    "unknown-click": (["nosuchclick", "", "Success", ""], "No click has gk_click_id nosuchclick"),
    "no-id": (["", "", "Success", "why"], "Neither gk_click_id nor EventId is filled in."),
    "formula": (
        ["", "{pk}", '=IF(1,"Success","Rejected")', ""],
        "Status holds a formula, not a value.",
    ),
    "long-cell": (["", "{pk}", "Success", "r" * 30_000], "Reason is 30,000 characters long"),
    "10000-columns": (
        ["", "{pk}", "Success", ""] + ["x"] * 10_000,
        "The row has more than 1,000 columns",
    ),
}


# A cell over Excel's 32,767 characters refuses the whole file (test_hostile_files). An XLS row
# has at most 256 columns.
@pytest.mark.parametrize(
    ("file_format", "case"),
    [
        (file_format, case)
        for file_format in ("csv", "xlsx", "xls")
        for case in BAD_ROWS
        if not (file_format == "xls" and case == "10000-columns")
    ],
)
def test_a_bad_row_is_rejected_with_its_reason_and_the_rest_applies(
    tmp_path, import_applied, conversion_factory, file_format, case
):
    cells, message = BAD_ROWS[case]
    bad_target, good = conversion_factory(), conversion_factory()
    cells = [cell.replace("{pk}", str(bad_target.pk)) for cell in cells]
    rows = [HEADER, ["", good.pk, "Success", ""], cells]

    job = import_applied(status_file(tmp_path, rows, file_format))

    assert job.state == ImportJob.State.APPLIED
    assert job.summary["errors"][0]["row"] == 3
    assert job.summary["errors"][0]["message"].startswith(message)
    assert job.summary["applied"] == {"pending->success": 1}
    bad_target.refresh_from_db()
    good.refresh_from_db()
    assert (bad_target.status, good.status) == (Status.PENDING, Status.SUCCESS)


@pytest.mark.parametrize("file_format", ["xlsx", "xls"])
def test_a_formula_cell_is_refused_even_with_a_cached_value(
    tmp_path, import_applied, conversion_factory, file_format
):
    target, good = conversion_factory(), conversion_factory()
    path = status_file(
        tmp_path,
        [HEADER, ["", good.pk, "Success", ""], ["", f"={target.pk}", "Rejected", ""]],
        file_format,
    )

    job = import_applied(path)

    assert job.summary["errors"] == [
        {
            "row": 3,
            "message": "EventId holds a formula, not a value. Replace formulas with their values "
            "(Copy, then Paste Special › Values) and upload again.",
        }
    ]
    target.refresh_from_db()
    assert target.status == Status.PENDING


def test_the_export_formula_escape_is_undone_on_the_reason(tmp_path, import_applied, conversion):
    job = import_applied(
        status_file(tmp_path, [HEADER, ["", conversion.pk, "Rejected", "'-chargeback"]])
    )
    assert job.state == ImportJob.State.APPLIED
    assert changes_since_recorded().get(conversion=conversion).reason == "-chargeback"
    assert Conversion.objects.get(pk=conversion.pk).status_reason == "-chargeback"
