"""A streaming reader for the first sheet of an XLSX workbook, hardened against hostile files
(the zip, its parts and the guarded XML stream are ``xlsx_parts``'s), and the check that says
whether python-calamine may read a file instead (``xlsx_for_values_reader``).

The sheet is parsed row by row and each row freed once read, so memory holds about one row
(at most ``max_row_chars`` bytes of its XML) plus the shared-string table. Row numbers must be
ASCII digits, at most 1,048,576 and increasing (a row numbered twice is refused: which of the
two would count?); cells must come left to right; a shared-string index must be ASCII digits
naming a string of the table.
"""

from __future__ import annotations

import operator
import re
import zipfile
import zlib
from pathlib import Path
from typing import IO

from lxml import etree

from conversions.imports.reading.limits import ReadLimits, read_limits
from conversions.imports.reading.types import Progress, Rows, UnusableFile
from conversions.imports.reading.xlsx_parts import (
    _DTD_MARKS,
    MAIN_NS,
    RESAVE,
    GuardedStream,
    SharedStrings,
    iterparse,
    parts_find,
    shared_strings_read,
    xlsx_archive_check,
    zip_open,
)

__all__ = ["xlsx_archive_check", "xlsx_for_values_reader", "xlsx_rows"]

MAX_ROW_NUMBER = 1_048_576

# A formula element, <f> or <x:f> with attributes or none: its name's end and the next byte.
_FORMULA_STARTS = (b"<f", b":f")
_FORMULA_NEXT = frozenset(b" \t\r\n/>")
# The start of a cell element, <c …> or <x:c …>.
_CELL_STARTS = (b"<c ", b"<c>", b":c ")


def xlsx_for_values_reader(path: Path | str, *, max_cells: int) -> bool:
    """Whether a reader that sees only values and holds every cell in memory (python-calamine:
    a formula's cached result, no DTD) reads the first sheet as ``xlsx_rows`` would, within
    ``max_cells``: no formula, no DTD in the sheet or the shared strings, at most that many
    cells, no long inline texts (more than 512 bytes of XML a cell), row numbers that
    ``xlsx_rows`` accepts (calamine merges a row numbered twice), and shared-string indexes of
    ASCII digits (calamine reads "-1" or "abc" as the first string).
    Decompresses the sheet once (0.4 s for 131 MB of XML, measured); a false alarm (":f " in
    an inline string) only means that the slower reader is used. Raises ``UnusableFile`` as
    ``xlsx_rows`` would."""
    with zip_open(path) as archive:
        parts = parts_find(archive)
        try:
            for name in filter(None, (parts.sheet, parts.shared_strings)):
                with archive.open(name) as stream:
                    head = _prolog_read(stream)
                    if head is None:
                        return False
                    if name == parts.sheet and not _values_only(stream, head, max_cells):
                        return False
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as error:
            raise UnusableFile(f"This .xlsx file is damaged ({error}). {RESAVE}") from error
    return True


_ROOT_START = re.compile(rb"<[A-Za-z_]")


def _prolog_read(stream: IO[bytes]) -> bytes | None:
    """The part's start, read up to its root element; ``None`` when its prolog has a DTD."""
    head = b""
    while chunk := stream.read(64 * 1024):
        head = head[-16:] + chunk
        root = _ROOT_START.search(head)
        if any(mark in head[: root.start() if root else len(head)] for mark in _DTD_MARKS):
            return None
        if root:
            return head
    return head


# A formula element, <f> or <x:f> with attributes or none: its name's end and the next byte.
_FORMULA_STARTS = (b"<f", b":f")
_FORMULA_NEXT = frozenset(b" \t\r\n/>")
# The start of a cell element, <c …> or <x:c …>.
_CELL_STARTS = (b"<c ", b"<c>", b":c ")
# Rows and shared-string cells as Excel and openpyxl write them (``r`` first, ``t="s"`` last):
# literal prefixes, which the regular expressions find at memchr speed (the general patterns
# took 0.43 s each for 14 MB). Any other layout is left to the reference reader.
_ROW_NUMBER = re.compile(rb'<row r="([0-9]{1,7})"')
_BAD_SHARED_INDEX = re.compile(rb't="s"><v>(?![0-9]+</v>)')
_LONG_TEXT_BYTES_PER_CELL = 512


def _values_only(stream: IO[bytes], head: bytes, max_cells: int) -> bool:
    carry, cells, last_row, scanned = head, 0, 0, 0
    while True:
        more = stream.read(1024 * 1024)
        data = carry + more
        # Whole rows only: up to the last row's start, the rest with the next block.
        cut = data.rfind(b"<row") if more else len(data)
        if cut <= 0 and more:
            if len(data) > 4 * 1024 * 1024:
                return False  # megabytes in one row: left to the reference reader
            carry = data
            continue
        chunk, carry = data[:cut], data[cut:]
        for start in _FORMULA_STARTS:
            at = chunk.find(start)
            while at != -1:
                if at + 2 >= len(chunk) or chunk[at + 2] in _FORMULA_NEXT:
                    return False
                at = chunk.find(start, at + 2)
        cells += sum(chunk.count(start) for start in _CELL_STARTS)
        scanned += len(chunk)
        if cells > max_cells:
            return False
        if scanned > _LONG_TEXT_BYTES_PER_CELL * cells + 1024 * 1024:
            return False  # long texts: calamine would hold them all before the first row
        if not _rows_and_indexes_plain(chunk, last_row):
            return False
        last_row = _last_row(chunk, last_row)
        if not more:
            return True


def _rows_and_indexes_plain(chunk: bytes, last_row: int) -> bool:
    """Every row of the chunk numbered, in order, after ``last_row`` and within a sheet; every
    shared-string index ASCII digits."""
    if b":row" in chunk:
        return False  # prefixed rows (<x:row>): left to the reference reader
    numbers = _ROW_NUMBER.findall(chunk)
    if len(numbers) != chunk.count(b"<row ") + chunk.count(b"<row>"):
        return False  # rows without a number, or numbered otherwise
    if numbers:
        values = list(map(int, numbers))
        if values[0] <= last_row or values[-1] > MAX_ROW_NUMBER:
            return False
        if not all(map(operator.lt, values, values[1:])):
            return False
    shared = chunk.count(b't="s"')
    return not shared or (
        chunk.count(b't="s"><v>') == shared and not _BAD_SHARED_INDEX.search(chunk)
    )


def _last_row(chunk: bytes, last_row: int) -> int:
    at = chunk.rfind(b'<row r="')
    if at == -1:
        return last_row
    found = _ROW_NUMBER.match(chunk, at)
    return int(found.group(1)) if found else last_row


def _column_index(reference: str) -> int:
    index = 0
    for char in reference:
        if "A" <= char <= "Z":
            index = index * 26 + ord(char) - 64
        else:
            break
    return index - 1


class _Columns(dict[str, int]):
    """Column index of a cell reference ("AB12" -> 27), remembered by its letters."""

    def __missing__(self, letters: str) -> int:
        index = _column_index(letters)
        if len(self) < 4096:
            self[letters] = index
        return index


def xlsx_rows(
    path: Path | str,
    *,
    progress: Progress | None = None,
    max_columns: int = 1000,
    limits: ReadLimits | None = None,
) -> Rows:
    """Rows of the first sheet. A row wider than ``max_columns`` is cut to ``max_columns + 1``
    cells (enough for the row check to see that it is too wide)."""
    limits = limits or read_limits()
    with zip_open(path) as archive:
        parts = parts_find(archive)
        strings = shared_strings_read(archive, parts.shared_strings, limits)
        total = archive.getinfo(parts.sheet).file_size
        with archive.open(parts.sheet) as raw:
            stream = GuardedStream(raw, parts.sheet, b"row", limits.max_row_chars)
            row_number = 0
            try:
                for count, (row_number, cells) in enumerate(
                    _sheet_rows(stream, strings, max_columns)
                ):
                    if progress is not None and count % 8192 == 0:
                        progress(stream.offset, total)
                    yield row_number, cells
            except GuardedStream.TooLarge as error:
                raise UnusableFile(
                    f"The row after row {row_number} of this .xlsx file (its XML, or what lies "
                    "between it and the next row) is larger than "
                    f"{limits.max_row_chars:,} bytes; a status row needs only gk_click_id, "
                    "EventId, Status and Reason. Delete the extra cells or columns, save, "
                    "and upload again."
                    if error.elements
                    else f"This .xlsx file's sheet holds more than {limits.max_row_chars:,} bytes "
                    f"of XML before its first row. {RESAVE}"
                ) from error
        if progress is not None:
            progress(total, total)


def _sheet_rows(stream: GuardedStream, strings: SharedStrings, max_columns: int) -> Rows:
    cell_tag, value_tag, formula_tag = f"{MAIN_NS}c", f"{MAIN_NS}v", f"{MAIN_NS}f"
    inline_tag, text_tag = f"{MAIN_NS}is", f"{MAIN_NS}t"
    columns = _Columns()
    # Shared strings looked up inline: the lookup runs for most cells of the sheet.
    text_buffer, text_offsets, last = strings.buffer, strings.offsets, len(strings)
    digits = "0123456789"
    row_number = 0
    for row in iterparse(stream, f"{MAIN_NS}row"):
        row_number = _row_number(row.get("r"), row_number)
        cells: list[str] = []
        for cell in row:
            if cell.tag != cell_tag:
                continue
            reference = cell.get("r")
            column = columns[reference.rstrip(digits)] if reference else len(cells)
            if column > max_columns:
                cells.extend([""] * (max_columns + 1 - len(cells)))
                break
            # The usual cell, <c t="s"><v>12</v></c> or <c><v>12</v></c>, inline.
            kind = cell.get("t")
            if len(cell) == 1 and cell[0].tag == value_tag and kind in ("s", None):
                value = cell[0].text
                if value is None:
                    text = ""
                elif kind is None:
                    text = value
                elif value.isdigit() and value.isascii() and (index := int(value)) < last:
                    text = text_buffer[text_offsets[index] : text_offsets[index + 1]].decode()
                else:
                    text = _shared(strings, value, cell)
            # The usual inline string (openpyxl's, our export's): <c t="inlineStr"><is>
            # <t>text</t></is></c>.
            elif (
                kind == "inlineStr"
                and len(cell) == 1
                and len(inline := cell[0]) == 1
                and inline.tag == inline_tag
                and inline[0].tag == text_tag
            ):
                text = inline[0].text or ""
            else:
                text = _cell_value(cell, strings, value_tag, formula_tag, inline_tag)
            if column == len(cells) or column < 0:
                cells.append(text)
            elif column > len(cells):
                cells.extend([""] * (column - len(cells)))
                cells.append(text)
            else:  # a cell out of order or given twice: at its column, the last one wins
                cells[column] = text
        yield row_number, cells


def _row_number(reference: str | None, previous: int) -> int:
    """The row's number: its ``r``, which must be ASCII digits, increase and stay within a
    sheet's 1,048,576 rows (a row numbered twice: which would count?); else the next one."""
    if reference is None:
        number = previous + 1
    elif reference.isdigit() and reference.isascii() and len(reference) <= 7:
        number = int(reference)
    else:
        number = -1
    if previous < number <= MAX_ROW_NUMBER:
        return number
    if 0 < number <= previous:
        problem = (
            f"row {number} appears twice"
            if number == previous
            else f"row {number} comes after row {previous}"
        )
        raise UnusableFile(
            f"This .xlsx file's sheet is damaged: {problem}, so it cannot be told which of its "
            f"cells count. {RESAVE}"
        )
    raise UnusableFile(
        f"This .xlsx file's sheet is damaged: the row after row {previous} is numbered "
        f"“{reference[:20] if reference else ''}”, not a row number from 1 to "
        f"{MAX_ROW_NUMBER:,}. {RESAVE}"
    )


def _cell_value(
    cell: etree._Element,
    strings: SharedStrings,
    value_tag: str,
    formula_tag: str,
    inline_tag: str,
) -> str:
    kind = cell.get("t")
    value = None
    for child in cell:
        tag = child.tag
        if tag == formula_tag:
            return "=" + (child.text or "")
        if tag == value_tag:
            value = child.text
        elif tag == inline_tag:
            return "".join(child.itertext())
    if value is None:
        return ""
    if kind == "s":
        return _shared(strings, value, cell)
    if kind == "b":
        return "TRUE" if value == "1" else "FALSE"
    return value


def _shared(strings: SharedStrings, value: str, cell: etree._Element) -> str:
    index = value.strip()
    if index.isdigit() and index.isascii() and int(index) < len(strings):
        return strings[int(index)]
    raise UnusableFile(
        f"This .xlsx file is damaged (cell {str(cell.get('r'))[:20]} points to a missing "
        f"shared string, “{value[:20]}”). {RESAVE}"
    )
