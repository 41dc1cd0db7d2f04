"""Reading status files row by row, whatever their format, in bounded memory.

``file_format_check`` tells what a file really is from its first bytes (never trusting the
extension alone); ``file_rows`` streams its first sheet as ``(row number, cells)``, where the row
number is the one a spreadsheet shows (the header is row 1) and cells are strings. A formula
cell is given as ``"=" + formula`` (XLS: ``"=" + its cached result``) so that the row check can
refuse it. A file that cannot be read at all raises ``UnusableFile`` with a message an admin
can act on.

Readers, chosen by measurement on a 1,048,576-row, four-column sheet (2 cores):

- CSV: the standard ``csv`` module over lines decoded one by one (so a bad byte names its row).
- XLSX: our own streaming reader over lxml (``conversions.imports.xlsx``): 10 s with shared
  strings (Excel's way), 14 s with inline strings (openpyxl's), 20-125 MB. openpyxl read-only
  took 64 s; python-calamine 1.7 s but 295 MB for four columns, and it builds the sheet's whole
  bounding box in memory, so one cell far right or far down makes it a memory bomb.
- XLS (at most 65,536 rows): xlrd (``ragged_rows`` so that one wide row does not pad them
  all), 0.4 s for 65,535 rows; python-calamine 0.05 s.

Both spreadsheet formats are read in a child process (``conversions.imports.reader_process``)
beside the row checks and the COPY: by python-calamine (``calamine_rows``) under a memory limit
when it can read the file as the reference readers above would, otherwise by those.
"""

from __future__ import annotations

import csv
import io
import logging
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

# A cell longer than this ends the reading of a CSV (it is almost always an unbalanced quote
# swallowing the rest of the file). Shorter, over-long cells are refused row by row.
CSV_MAX_FIELD_CHARS = 16 * 1024 * 1024
csv.field_size_limit(max(csv.field_size_limit(), CSV_MAX_FIELD_CHARS))

ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
FORMATS = {".csv": "csv", ".xls": "xls", ".xlsx": "xlsx"}
SAVE_AS_UTF8 = (
    'In Excel choose File › Save As › "CSV UTF-8 (Comma delimited) (*.csv)"; in another editor '
    "choose the UTF-8 encoding when saving. Then upload the file again."
)

Rows = Iterator[tuple[int, list[str]]]
Progress = Callable[[int, int], None]


class UnusableFile(Exception):
    """The file cannot be read at all; ``message`` says what to do about it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def file_format_from_name(name: str) -> str:
    """``csv``, ``xls`` or ``xlsx`` from a file name; ``UnusableFile`` for anything else."""
    suffix = Path(name).suffix.lower()
    if suffix not in FORMATS:
        raise UnusableFile(
            f"“{Path(name).name}” is not a CSV, XLS or XLSX file. Upload the status file as "
            ".csv, .xls or .xlsx."
        )
    return FORMATS[suffix]


def file_format_check(head: bytes, file_format: str) -> None:
    """Refuse content that is not what the extension says, from the file's first bytes."""
    if not head:
        raise UnusableFile("The file is empty. Upload a file with a header row and data rows.")
    if file_format == "xlsx" and not head.startswith(ZIP_MAGIC):
        if head.startswith(OLE2_MAGIC):
            found = "an older Excel 97-2003 workbook (.xls)"
            fix = "rename it to .xls, or save it as an Excel Workbook (.xlsx)"
        elif _looks_like_text(head):
            found = "text (CSV)"
            fix = "rename it to .csv, or open it in Excel and save it as an Excel Workbook (.xlsx)"
        else:
            found = "not a spreadsheet"
            fix = "save the sheet as an Excel Workbook (.xlsx) or as CSV UTF-8"
        raise UnusableFile(f"This .xlsx file is really {found}: {fix}, then upload it again.")
    if file_format == "xls" and not head.startswith(OLE2_MAGIC):
        if head.startswith(ZIP_MAGIC):
            found, fix = "an Excel Workbook (.xlsx)", "rename it to .xlsx"
        elif _looks_like_text(head):
            found, fix = "text (CSV or HTML)", "save it from Excel as .xlsx or as CSV UTF-8"
        else:
            found, fix = "not a spreadsheet", "save it from Excel as .xlsx or as CSV UTF-8"
        raise UnusableFile(f"This .xls file is really {found}: {fix}, then upload it again.")
    if file_format == "csv":
        if head.startswith(ZIP_MAGIC) or head.startswith(OLE2_MAGIC):
            kind = "xlsx" if head.startswith(ZIP_MAGIC) else "xls"
            raise UnusableFile(
                f"This .csv file is really an Excel workbook: rename it to .{kind}, or save it "
                "as CSV UTF-8, then upload it again."
            )
        if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head:
            raise UnusableFile(
                "This CSV file is saved as UTF-16 (Excel's “Unicode Text”) or is not text at "
                f"all. {SAVE_AS_UTF8}"
            )


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        # A multi-byte character cut at the end of the sample is still text.
        return error.start >= len(head) - 3
    return True


def file_rows(path: Path | str, file_format: str, *, progress: Progress | None = None) -> Rows:
    """Stream the rows of the file's first sheet. ``progress(done, total)`` is called now and
    then with how far the reading is (in bytes of the file or of the sheet, or in rows)."""
    if file_format == "csv":
        return csv_rows(path, progress=progress)
    if file_format in ("xlsx", "xls"):
        from conversions.imports.reader_process import rows_in_process

        return rows_in_process(path, file_format, progress=progress)
    raise UnusableFile(f"Unknown file format {file_format!r}.")


# --- CSV --------------------------------------------------------------------------------------


def csv_rows(path: Path | str, *, progress: Progress | None = None) -> Rows:
    size = Path(path).stat().st_size
    with open(path, "rb") as raw:
        head = raw.read(3)
        if head != b"\xef\xbb\xbf":  # UTF-8 byte order mark, as Excel's "CSV UTF-8" writes
            raw.seek(0)
        lines = _decoded_lines(raw, progress, size)
        row_number = 0
        try:
            first = next(lines, None)
            while first is not None and not first.strip():
                row_number += 1
                first = next(lines, None)
            if first is None:
                raise UnusableFile(
                    "The file has no header row. The first row must name the columns."
                )
            delimiter = _delimiter_detect(first)
            reader = csv.reader(_chain_first(first, lines), delimiter=delimiter, strict=False)
            for cells in reader:
                row_number += 1
                yield row_number, cells
        except csv.Error as error:
            raise UnusableFile(
                f"Row {row_number + 1} cannot be read as CSV ({error}). This usually means a "
                'quote (") that is opened but never closed; fix that row and upload again.'
            ) from error
        except _BadBytes as error:
            raise UnusableFile(
                f"Row {row_number + 1} (line {error.line}) is not valid UTF-8 text: byte "
                f"0x{error.byte:02X} at character {error.position + 1}. {SAVE_AS_UTF8}"
            ) from error


class _BadBytes(Exception):
    def __init__(self, line: int, position: int, byte: int) -> None:
        super().__init__(line, position, byte)
        self.line, self.position, self.byte = line, position, byte


def _decoded_lines(raw: io.BufferedReader, progress: Progress | None, size: int) -> Iterator[str]:
    for number, line in enumerate(raw, start=1):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as error:
            raise _BadBytes(number, error.start, line[error.start]) from error
        if progress is not None and number % 8192 == 0:
            progress(raw.tell(), size)
        yield text
    if progress is not None:
        progress(raw.tell(), size)


def _chain_first(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


def _delimiter_detect(header: str) -> str:
    """Comma, semicolon (Excel in many European locales) or tab: whichever splits the header
    line into the most fields."""
    counts = {
        delimiter: len(next(csv.reader([header], delimiter=delimiter)))
        for delimiter in (",", ";", "\t")
    }
    return max(counts, key=lambda delimiter: (counts[delimiter], delimiter == ","))


# --- XLS --------------------------------------------------------------------------------------


def xls_rows(path: Path | str, *, progress: Progress | None = None) -> Rows:
    import xlrd

    try:
        book = xlrd.open_workbook(
            str(path),
            on_demand=True,
            ragged_rows=True,
            formatting_info=False,
            logfile=io.StringIO(),
        )
    except Exception as error:  # noqa: BLE001 -- xlrd raises many kinds for a broken file
        raise UnusableFile(
            f"This .xls file cannot be read ({error}). Open it in Excel and save it as an Excel "
            "Workbook (.xlsx) or as CSV UTF-8, then upload that."
        ) from error
    try:
        if book.nsheets == 0:
            raise UnusableFile("This .xls file has no sheet.")
        sheet = book.sheet_by_index(0)
        try:
            formulas = xls_formula_cells(path)
        except Exception:  # noqa: BLE001 -- xlrd read it: its values are still good
            logger.warning("Could not look for formulas in %s", path, exc_info=True)
            formulas = {}
        text = xlrd.XL_CELL_TEXT
        for index in range(sheet.nrows):
            # Types and values as two plain lists (no Cell object per cell); text as it is.
            cells = [
                value if kind == text else _xls_cell(kind, value)
                for kind, value in zip(sheet.row_types(index), sheet.row_values(index), strict=True)
            ]
            if index in formulas:
                _formulas_mark(cells, formulas[index], 0)
            if progress is not None and index % 4096 == 0:
                progress(index, sheet.nrows)
            yield index + 1, cells
        if progress is not None:
            progress(sheet.nrows, sheet.nrows)
    finally:
        book.release_resources()


def calamine_rows(path: Path | str, *, progress: Progress | None = None) -> Rows:
    """The rows of an XLS or XLSX file's first sheet by python-calamine, cells as ``xls_rows``
    gives them (trailing blank cells left out). Raises whatever calamine raises for a file it
    cannot read, and holds the sheet's whole bounding box in memory: run it under a memory
    limit. It sees no formula (it gives their cached results): check for them first."""
    from python_calamine import CalamineWorkbook

    # calamine gives an XLS formula's cached result; the formulas are found in the file itself.
    formulas = xls_formula_cells(path) if Path(path).suffix.lower() == ".xls" else {}
    with CalamineWorkbook.from_path(str(path)) as book:
        sheet = book.get_sheet_by_index(0)
        if sheet.start is None or sheet.end is None:  # an empty sheet (its rows need a cell)
            return
        first_column = sheet.start[1]
        total = sheet.end[0] + 1
        # Rows from the sheet's first row (calamine gives the empty ones above its data), so
        # the index is the row number; columns from its first used one, the same for every row.
        for index, row in enumerate(sheet.iter_rows()):
            if progress is not None and index % 8192 == 0:
                progress(index, total)
            cells = [value if type(value) is str else _value_text(value) for value in row]
            if index in formulas:
                _formulas_mark(cells, formulas[index], first_column)
            while cells and cells[-1] == "":
                cells.pop()
            yield index + 1, cells
        if progress is not None:
            progress(total, total)


def xls_formula_cells(path: Path | str) -> dict[int, list[int]]:
    """The formula cells of an XLS file's first worksheet: row index -> column indexes (from 0).

    Neither xlrd nor calamine says which cells are formulas (both give the cached result), so
    the BIFF records of the sheet are walked for FORMULA records (0.05 s for 65,535 rows of
    four columns, measured). Raises for a file it cannot walk."""
    from xlrd.compdoc import CompDoc

    data = Path(path).read_bytes()
    document = CompDoc(data, logfile=io.StringIO())
    stream, base, size = document.locate_named_stream("Workbook")
    if stream is None:
        stream, base, size = document.locate_named_stream("Book")
    end = base + size
    unpack = struct.unpack_from
    # Workbook globals, up to their EOF: the first BOUNDSHEET of a worksheet (type 0) gives
    # where its records start, from the start of the stream.
    position, sheet_at = base, None
    while position + 4 <= end:
        code, length = unpack("<HH", stream, position)
        if code == _BOUNDSHEET and sheet_at is None and stream[position + 9] == 0:
            (sheet_at,) = unpack("<I", stream, position + 4)
        elif code == _EOF:
            break
        position += 4 + length
    formulas: dict[int, list[int]] = {}
    if sheet_at is None:
        return formulas
    # The sheet, from its BOF to its EOF (a chart inside it has its own BOF and EOF).
    position, depth = base + sheet_at, 0
    while position + 4 <= end:
        code, length = unpack("<HH", stream, position)
        if code == _FORMULA and depth == 1:
            row, column = unpack("<HH", stream, position + 4)
            formulas.setdefault(row, []).append(column)
        elif code == _BOF:
            depth += 1
        elif code == _EOF:
            depth -= 1
            if depth == 0:
                break
        position += 4 + length
    return formulas


_BOF, _EOF, _BOUNDSHEET, _FORMULA = 0x0809, 0x000A, 0x0085, 0x0006


def _formulas_mark(cells: list[str], columns: list[int], first_column: int) -> None:
    # As the XLSX reader gives a formula: "=" first, so that the row check refuses it.
    for column in columns:
        at = column - first_column
        if 0 <= at < len(cells):
            cells[at] = "=" + cells[at]


def _value_text(value: Any) -> str:
    # A cell value that is not text (calamine's ints, floats, bools and dates; xlrd's numbers
    # and booleans), as both XLS readers write it.
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def _xls_cell(ctype: int, value: Any) -> str:
    import xlrd

    if ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
        return ""
    if ctype == xlrd.XL_CELL_NUMBER:
        return _value_text(float(value))
    if ctype == xlrd.XL_CELL_ERROR:
        return xlrd.error_text_from_code.get(value, "#ERROR")
    if ctype == xlrd.XL_CELL_BOOLEAN:
        return _value_text(bool(value))
    return str(value)
