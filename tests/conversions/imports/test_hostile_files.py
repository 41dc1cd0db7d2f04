"""Hostile files: each is read in bounded memory and gets a message naming its row or cell, or
its bad rows are rejected one by one; nothing crashes, no row is lost, nothing half-applies."""

import logging
import struct

import pytest
from django.core.exceptions import ValidationError

from conversions.imports import services
from conversions.imports.reading import process
from conversions.imports.reading.types import UnusableFile
from conversions.imports.reading.xlsx import xlsx_rows
from conversions.models import Conversion, ImportJob, Status
from tests.conversions.factories import changes_since_recorded
from tests.conversions.imports.raw_xlsx import row, xlsx_raw
from tests.conversions.imports.status_files import HEADER, status_file, xls_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("import_media_root")]

SAVE_AGAIN = "save it again as an Excel Workbook (.xlsx)"


@pytest.fixture
def conversion(conversion_factory):
    return conversion_factory(status=Status.PENDING)


def written(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def invalid(import_validated, path, *starts):
    job = import_validated(path)
    assert job.state == ImportJob.State.INVALID, job.summary
    assert not changes_since_recorded().exists()
    for start in starts:
        assert start in job.error_message, job.error_message
    return job


# --- CSV: quotes are strict, rows are never swallowed -----------------------------------------


@pytest.mark.parametrize(
    ("data", "words"),
    [
        # Opened and never closed, in an ignored column: 2,000 rows were read as 100.
        (
            b"EventId,Status,Note\n"
            + b"".join(b"%d,Success,x\n" % n for n in range(1, 100))
            + b'100,Success,"oops\n'
            + b"".join(b"%d,Success,x\n" % n for n in range(101, 2001)),
            ["Row 101 (line 101)", "column 3 (Note)", "line 102, which looks like a row"],
        ),
        # Opened on row 101, closed on row 201: the hundred rows between are rows.
        (
            b"EventId,Status,Reason\n"
            + b"".join(b"%d,Success,x\n" % n for n in range(1, 100))
            + b'100,Success,"opened\n'
            + b"".join(b"%d,Success,x\n" % n for n in range(101, 200))
            + b'200,Success,closed"\n',
            ["Row 101 (line 101)", "line 102, which looks like a row"],
        ),
        # Unclosed in the last column: the rest of the file became one row's Reason.
        (
            b'EventId,Status,Reason\n1,Success,"never closed\n2,Success,x\n',
            ["Row 2 (line 2)", "column 3 (Reason)"],
        ),
        (b'EventId,Status,Reason\n1,Success,"never closed', ["never closed (the file ends"]),
        (b'EventId,Status,Reason\n1,Success,"ab"cd\n', ["text right after its closing quote"]),
    ],
)
def test_a_quote_that_would_swallow_rows_refuses_the_file(
    tmp_path, import_validated, conversion, data, words
):
    invalid(import_validated, written(tmp_path, "quotes.csv", data), *words)
    conversion.refresh_from_db()
    assert conversion.status == Status.PENDING


def test_a_quoted_reason_over_several_lines_is_one_row(tmp_path, import_applied, conversion):
    data = f'EventId,Status,Reason\n{conversion.pk},Rejected,"fraud\nreview, by ops"\n'.encode()

    job = import_applied(written(tmp_path, "multiline.csv", data))

    assert job.summary["rows"] == 1
    conversion.refresh_from_db()
    assert conversion.status_reason == "fraud\nreview, by ops"


def test_carriage_return_line_endings_are_lines(tmp_path, import_applied, conversion_factory):
    first, second = conversion_factory(), conversion_factory()
    data = f"EventId,Status\r{first.pk},Rejected\r{second.pk},Rejected\r".encode()

    job = import_applied(written(tmp_path, "mac.csv", data))

    assert job.summary["rows"] == 2
    assert job.summary["applied"] == {"pending->rejected": 2}


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"EventId,Status,Reason\n1,Success," + b"r" * 2_000_000 + b"\n", ["Row 2 (line 2)"]),
        (b"EventId,Status," + b"h" * 2_000_000 + b"\n1,Success\n", ["The header row"]),
        (b"EventId,Status\n" + b"," * 2_000_000 + b"\n", ["Row 2 (line 2) holds more than"]),
        (b"EventId,Status,Reason\n1,Success," + b"x" * 40_000 + b"\n", ["Cell C2 holds 40,000"]),
    ],
)
def test_an_over_long_csv_row_or_cell_is_refused_while_reading(
    tmp_path, import_validated, data, words
):
    job = invalid(import_validated, written(tmp_path, "long.csv", data), *words)
    assert "quote" not in job.error_message


def test_a_nul_byte_past_the_sniffed_head_rejects_its_row_only(
    tmp_path, import_applied, conversion_factory
):
    good, bad = conversion_factory(), conversion_factory()
    filler = "".join(f",{good.pk},Success,padding {n}\n" for n in range(3000))
    data = f"gk_click_id,EventId,Status,Reason\n{filler}".encode()
    data += f",{bad.pk},Success,bad\x00byte\n".encode()
    assert len(data) > 64 * 1024

    job = import_applied(written(tmp_path, "nul.csv", data))

    assert job.summary["invalid"] == 1
    assert "NUL character" in job.summary["errors"][0]["message"]
    bad.refresh_from_db()
    assert bad.status == Status.PENDING


@pytest.mark.parametrize("event_id", ["1_0", "\u0661\u0662", "+5", " 1e5x", "0x10", "١"])
def test_an_event_id_is_ascii_digits_only(tmp_path, import_validated, conversion_factory, event_id):
    conversion_factory()
    job = import_validated(status_file(tmp_path, [HEADER, ["", event_id, "Success", ""]]))

    assert job.summary["invalid"] == 1
    assert "is not a conversion number" in job.summary["errors"][0]["message"]


# --- XLS ----------------------------------------------------------------------------------------


def test_a_nul_in_an_xls_string_rejects_its_row(tmp_path, import_applied, conversion_factory):
    good, bad = conversion_factory(), conversion_factory()
    rows = [HEADER, ["", good.pk, "Success", ""], ["", bad.pk, "Success", "a\x00b"]]

    job = import_applied(status_file(tmp_path, rows, "xls"))

    assert job.summary["invalid"] == 1
    assert job.summary["errors"][0]["row"] == 3
    assert "NUL character" in job.summary["errors"][0]["message"]


def test_an_xls_sheet_record_pointing_past_the_stream_is_refused(tmp_path, import_validated):
    data = bytearray(xls_bytes([HEADER, ["abc", 1, "Success", ""]]))
    # BOUNDSHEET (0x0085): its first 4 bytes are where the sheet starts in the stream.
    at = data.find(b"\x85\x00")
    while at != -1 and struct.unpack_from("<H", data, at + 2)[0] > 64:
        at = data.find(b"\x85\x00", at + 1)
    struct.pack_into("<I", data, at + 4, 0x7FFF_FFF0)

    invalid(import_validated, written(tmp_path, "pointer.xls", bytes(data)), ".xls file")


# --- XLSX ---------------------------------------------------------------------------------------


def header_row():
    return row(1, HEADER)


@pytest.mark.parametrize(
    ("reference", "words"),
    [
        ("3000000000", ["numbered “3000000000”"]),
        ("1048577", ["numbered “1048577”"]),
        ("-2", ["numbered “-2”"]),
        ("2", ["row 2 appears twice"]),
        ("1", ["row 1 comes after row 2"]),
    ],
)
def test_a_bad_or_repeated_xlsx_row_number_is_refused_by_both_readers(
    tmp_path, import_validated, conversion, reference, words
):
    sheet = header_row() + row(2, ["", conversion.pk, "Rejected", ""])
    sheet += row(3, ["", conversion.pk, "Success", ""], reference=reference)

    invalid(import_validated, written(tmp_path, "rows.xlsx", xlsx_raw(sheet)), *words)


@pytest.mark.parametrize("index", ["-1", "abc", "1_0", "99"])
def test_a_bad_shared_string_index_is_refused_by_both_readers(
    tmp_path, import_validated, conversion, index
):
    sheet = header_row() + (
        f'<row r="2"><c r="B2"><v>{conversion.pk}</v></c><c r="C2" t="s"><v>{index}</v></c></row>'
    )

    invalid(
        import_validated,
        written(tmp_path, "strings.xlsx", xlsx_raw(sheet, ["Success"])),
        "points to a missing shared string",
    )


def test_a_row_of_millions_of_empty_cells_is_refused_while_streaming(
    tmp_path, import_validated, settings
):
    settings.IMPORT_XLSX_MAX_RATIO = 100_000  # (it would be refused as a zip bomb first)
    # The formula forces the streaming reader (calamine never sees formulas).
    sheet = header_row() + '<row r="2">' + "<c/>" * 2_000_000 + '<c r="B2"><f>1+1</f></c></row>'

    invalid(
        import_validated,
        written(tmp_path, "wide.xlsx", xlsx_raw(sheet)),
        "The row after row 1 of this .xlsx file",
    )


def test_an_over_long_inline_string_is_refused_naming_its_cell(tmp_path, import_validated):
    sheet = header_row() + row(2, ["", 1, "Success", "x" * 100_000])

    invalid(
        import_validated,
        written(tmp_path, "long.xlsx", xlsx_raw(sheet)),
        "Cell D2 holds 100,000 characters",
    )


def test_an_over_long_shared_string_is_refused(tmp_path, import_validated):
    sheet = header_row() + '<row r="2"><c r="B2"><v>1</v></c><c r="D2" t="s"><v>0</v></c></row>'
    path = written(tmp_path, "shared.xlsx", xlsx_raw(sheet, ["y" * 40_000]))

    # calamine names the cell; the reference reader the string, before any row.
    invalid(import_validated, path, "Cell D2 holds 40,000 characters")
    with pytest.raises(UnusableFile, match="Shared string 0 of this .xlsx file"):
        list(xlsx_rows(path))


def test_a_dtd_after_4_kb_of_prolog_is_refused(tmp_path, import_validated):
    prolog = "<!--" + " " * 8000 + '--><!DOCTYPE w [<!ENTITY a "b">]>'

    invalid(
        import_validated,
        written(tmp_path, "dtd.xlsx", xlsx_raw(header_row(), sheet_prolog=prolog)),
        "declares XML entities",
    )


def test_a_workbook_whose_first_sheet_is_a_chart_says_so(tmp_path, admin_user):
    path = written(tmp_path, "chart.xlsx", xlsx_raw(header_row(), sheet_kind="chartsheet"))

    assert "is a chart, not a sheet of rows" in refused(path, admin_user)


def refused(path, admin_user):
    with pytest.raises(ValidationError) as error:
        services.import_job_create(
            user=admin_user, upload=path, original_name=path.name, queue_validation=False
        )
    return " ".join(error.value.messages)


def test_an_encrypted_xlsx_is_told_to_remove_its_password(tmp_path, admin_user):
    ole2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 1000 + "EncryptionInfo".encode("utf-16-le")
    message = refused(written(tmp_path, "secret.xlsx", ole2 + b"\0" * 1000), admin_user)

    assert "protected by a password" in message
    assert "rename" not in message


def test_cells_out_of_order_read_the_same_by_both_readers(
    tmp_path, import_applied, conversion_factory
):
    conversion = conversion_factory()
    sheet = header_row() + (
        f'<row r="2"><c r="C2" t="inlineStr"><is><t>Rejected</t></is></c>'
        f'<c r="B2"><v>{conversion.pk}</v></c></row>'
    )

    job = import_applied(written(tmp_path, "order.xlsx", xlsx_raw(sheet)))

    assert job.summary["applied"] == {"pending->rejected": 1}
    assert Conversion.objects.get().status == Status.REJECTED


# --- the fast reader stopping after it has sent rows --------------------------------------------


@pytest.mark.parametrize("file_format", ["xlsx", "xls"])
def test_calamine_stopping_after_rows_hands_over_to_the_reference_reader(
    tmp_path, import_validated, conversion_factory, monkeypatch, caplog, file_format
):
    """The rows already given are not taken back: the reference reader checks that they are
    the ones it reads (their CRC) and gives the rest, so no row is lost or counted twice."""
    monkeypatch.setattr(process, "CHILD_MODULE", "tests.conversions.imports.crashing_child")
    conversions = [conversion_factory() for _ in range(8)]
    rows = [HEADER, *(["", c.pk, "Rejected", f"r{n}"] for n, c in enumerate(conversions))]

    with caplog.at_level(logging.INFO, logger="conversions.imports.reading.process"):
        job = import_validated(status_file(tmp_path, rows, file_format))

    assert job.state == ImportJob.State.VALIDATED, job.error_message
    assert job.summary["rows"] == 8
    assert job.summary["will_change"] == {"pending->rejected": 8}
    assert "with the reference reader from row 4 on" in caplog.text


def test_rows_given_that_the_reference_reader_reads_otherwise_refuse_the_file(
    tmp_path, import_validated, conversion_factory, monkeypatch
):
    monkeypatch.setattr(process, "CHILD_MODULE", "tests.conversions.imports.crashing_child")
    monkeypatch.setenv("GOKART_TEST_TAMPER", "1")
    conversions = [conversion_factory() for _ in range(5)]
    rows = [HEADER, *(["", c.pk, "Rejected", ""] for c in conversions)]

    invalid(
        import_validated,
        status_file(tmp_path, rows, "xlsx"),
        "reads differently with each of our two spreadsheet readers",
    )
