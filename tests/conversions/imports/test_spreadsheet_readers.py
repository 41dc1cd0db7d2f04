"""XLS and XLSX files: read by python-calamine in a child process under a memory limit, and by
the format's reference reader (xlrd, our streaming XLSX reader) whenever calamine cannot: a
sheet too large for the limit, a damaged file, an XLSX with formulas."""

import datetime
import logging

import pytest
import xlwt

from conversions.imports.reading.calamine import calamine_rows
from conversions.imports.reading.rows import file_rows
from conversions.imports.reading.xls import xls_rows
from conversions.imports.reading.xlsx import xlsx_for_values_reader, xlsx_rows
from conversions.models import Status
from tests.conversions.imports.status_files import HEADER, status_file, xls_bytes, xlsx_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("import_media_root")]


FALLBACK = "python-calamine did not"


def without_trailing_blanks(rows):
    out = []
    for number, cells in rows:
        while cells and cells[-1] == "":
            cells = cells[:-1]
        out.append((number, cells))
    return out


def test_both_xls_readers_give_the_same_cells(tmp_path):
    workbook = xlwt.Workbook()
    sheet = workbook.add_sheet("Statuses")
    rows = [
        HEADER,
        ["abc", 12345, "Success", "  padded  "],
        ["", 12345.0, "rejected", "café 漢字"],
        ["", 10**17, "Pending", 1.5],
        ["x", "", True, False],
    ]
    for r, row in enumerate(rows, start=1):  # row 1 of the sheet is left empty
        for c, value in enumerate(row):
            if value != "":
                sheet.write(r, c, value)
    sheet.write(6, 5, "far right")
    sheet.write(6, 2, xlwt.Formula("1+2"))  # (xlwt stores no cached result)
    path = tmp_path / "cells.xls"
    workbook.save(str(path))

    fast = list(calamine_rows(path))
    reference = without_trailing_blanks(xls_rows(path))

    assert fast == reference
    assert fast[2] == (3, ["abc", "12345", "Success", "  padded  "])
    assert fast[3] == (4, ["", "12345", "rejected", "café 漢字"])
    assert fast[4] == (5, ["", "100000000000000000", "Pending", "1.5"])
    assert fast[5] == (6, ["x", "", "TRUE", "FALSE"])
    assert fast[6] == (7, ["", "", "=", "", "", "far right"])


def test_a_date_cell_reads_as_its_date(tmp_path):
    workbook = xlwt.Workbook()
    sheet = workbook.add_sheet("Statuses")
    sheet.write(0, 0, datetime.date(2026, 11, 25), xlwt.easyxf(num_format_str="yyyy-mm-dd"))
    path = tmp_path / "date.xls"
    workbook.save(str(path))

    assert list(file_rows(path, "xls")) == [(1, ["2026-11-25"])]


@pytest.mark.parametrize("file_format", ["xls", "xlsx"])
def test_a_sheet_whose_data_starts_further_down_and_right_keeps_its_row_numbers(
    tmp_path, import_validated, conversion_factory, caplog, file_format
):
    conversion = conversion_factory(status=Status.PENDING)
    rows = [HEADER, ["", conversion.pk, "Success", ""], ["", "abc", "Success", ""]]
    # From C3: two blank rows, two blank columns.
    path = status_file(
        tmp_path, [[None], [None], *[[None, None, *row] for row in rows]], file_format
    )

    with caplog.at_level(logging.INFO, logger="conversions.imports.reading.process"):
        job = import_validated(path)

    assert job.state == "validated", job.error_message
    assert job.summary["will_change"] == {"pending->success": 1}
    assert job.summary["errors"] == [
        {"row": 5, "message": "EventId “abc” is not a conversion number."}
    ]
    assert FALLBACK not in caplog.text  # read by the fast reader


@pytest.mark.parametrize(
    ("file_format", "last_row", "last_column"),
    # An XLS's last cell (65,536 × 256 cells: about 1 GB) or an XLSX's XFD1000 (1,000 × 16,384).
    [("xls", 65_536, 256), ("xlsx", 1_000, 16_384)],
)
def test_a_sheet_too_large_for_the_fast_reader_is_read_by_the_reference_reader(
    tmp_path, import_validated, conversion_factory, caplog, file_format, last_row, last_column
):
    """One stray cell far down and right makes calamine's bounding box huge: its process stops
    at the memory limit before it sends a row, and the reference reader (xlrd, or the streaming
    XLSX reader), which keeps rows sparse, reads the file."""
    conversion = conversion_factory(status=Status.PENDING)
    blank = [[None]] * (last_row - 3)
    stray = [None] * (last_column - 1) + ["stray"]
    path = status_file(
        tmp_path, [HEADER, ["", conversion.pk, "Rejected", "late"], *blank, stray], file_format
    )

    with caplog.at_level(logging.INFO, logger="conversions.imports.reading.process"):
        job = import_validated(path)

    assert job.state == "validated", job.error_message
    assert job.summary["rows"] == 1
    assert job.summary["will_change"] == {"pending->rejected": 1}
    assert f"{FALLBACK} (exit status" in caplog.text


def test_a_damaged_xls_gets_the_reference_readers_message(tmp_path, import_validated):
    data = xls_bytes([HEADER, ["abc", 1, "Success", ""]])
    path = tmp_path / "damaged.xls"
    path.write_bytes(data[: len(data) // 2])

    job = import_validated(path)

    assert job.state == "invalid"
    assert job.error_message.startswith("This .xls file cannot be read (")
    assert "save it as an Excel Workbook (.xlsx) or as CSV UTF-8" in job.error_message


def test_both_xlsx_readers_give_the_same_cells(tmp_path):
    rows = [
        HEADER,
        ["abc", 12345, "Success", "  padded  "],
        ["", 67890, "rejected", "café 漢字"],
        [None, None, None, None],
        ["", 11, "Pending", 1.5, None, "far right"],
        ["x", None, True, False],
    ]
    path = tmp_path / "cells.xlsx"
    path.write_bytes(xlsx_bytes(rows))

    fast = list(calamine_rows(path))

    assert fast == without_trailing_blanks(xlsx_rows(path))
    assert fast[1] == (2, ["abc", "12345", "Success", "  padded  "])
    assert fast[3] == (4, [])
    assert fast[4] == (5, ["", "11", "Pending", "1.5", "", "far right"])
    assert fast[5] == (6, ["x", "", "TRUE", "FALSE"])
    assert xlsx_for_values_reader(path, max_cells=100)
    assert not xlsx_for_values_reader(path, max_cells=5)  # (the first two rows: 8 cells)


def test_an_xlsx_with_a_formula_is_left_to_the_reference_reader(tmp_path):
    path = tmp_path / "formula.xlsx"
    path.write_bytes(xlsx_bytes([HEADER, ["", "=1+2", "Success", ""]]))

    assert not xlsx_for_values_reader(path, max_cells=100)
    assert list(file_rows(path, "xlsx"))[1] == (2, ["", "=1+2", "Success", ""])


def test_an_xls_formula_is_found_in_a_sheet_that_starts_further_right(
    tmp_path, import_validated, conversion_factory
):
    conversion = conversion_factory(status=Status.PENDING)
    rows = [HEADER, ["", conversion.pk, "Success", ""], ["", conversion.pk, '="Rejected"', ""]]
    path = status_file(tmp_path, [[None], *[[None, None, *row] for row in rows]], "xls")

    job = import_validated(path)

    assert job.summary["errors"] == [
        {
            "row": 4,
            "message": "Status holds a formula, not a value. Replace formulas with their values "
            "(Copy, then Paste Special › Values) and upload again.",
        }
    ]
