"""A streaming reader for the first sheet of an XLSX workbook, hardened against hostile files.

Before any XML is parsed, the zip's directory is checked (``xlsx_archive_check``): a damaged
zip, a zip that holds no workbook, too many members, a total uncompressed size over
``IMPORT_XLSX_MAX_UNCOMPRESSED_BYTES`` or a member that inflates more than
``IMPORT_XLSX_MAX_RATIO`` times (a zip bomb) are refused. The sizes in the directory cannot
lie: ``zipfile`` stops a member at its declared size and checks its CRC.

The XML parts are parsed by lxml with entity resolution, DTD loading and network access off,
and any part that declares a DTD (which Excel never writes; it is how entity-expansion bombs
start) is refused. The sheet is parsed row by row and each row freed once read, so memory holds
one row plus the shared-string table, packed into one buffer rather than a Python string each.
"""

from __future__ import annotations

import posixpath
import zipfile
import zlib
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from django.conf import settings
from lxml import etree

from conversions.imports.reading.types import Progress, Rows, UnusableFile

MAIN_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
DOC_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
MAX_MEMBERS = 10_000
# Members smaller than this are not held to the ratio (tiny XML parts compress very well).
RATIO_MIN_BYTES = 1024 * 1024
RESAVE = "Open it in Excel and save it again as an Excel Workbook (.xlsx), then upload it."


def _limits() -> tuple[int, int, int]:
    return (
        getattr(settings, "IMPORT_XLSX_MAX_UNCOMPRESSED_BYTES", 2 * 1024**3),
        getattr(settings, "IMPORT_XLSX_MAX_RATIO", 100),
        getattr(settings, "IMPORT_XLSX_MAX_SHARED_STRINGS_BYTES", 512 * 1024**2),
    )


class _Parts:
    """Where the first sheet and the shared strings are inside the zip."""

    def __init__(self, sheet: str, shared_strings: str | None) -> None:
        self.sheet = sheet
        self.shared_strings = shared_strings


def xlsx_archive_check(path: Path | str) -> None:
    """Refuse a damaged zip, a zip that is not a workbook, or a bomb-like one; reads only the
    zip directory and the workbook's two small index parts."""
    with _open_zip(path) as archive:
        _parts_find(archive)


def _open_zip(path: Path | str) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise UnusableFile(f"This .xlsx file is damaged (its zip cannot be read). {RESAVE}") from (
            error
        )
    try:
        _directory_check(archive)
    except BaseException:
        archive.close()
        raise
    return archive


def _directory_check(archive: zipfile.ZipFile) -> None:
    max_total, max_ratio, _ = _limits()
    members = archive.infolist()
    if len(members) > MAX_MEMBERS:
        raise UnusableFile(
            f"This .xlsx file holds {len(members):,} parts, far more than a workbook has; it is "
            "refused as a possible zip bomb. " + RESAVE
        )
    total = 0
    for member in members:
        total += member.file_size
        if member.file_size > RATIO_MIN_BYTES and (
            member.file_size > max_ratio * max(member.compress_size, 1)
        ):
            raise UnusableFile(
                f"This .xlsx file is refused as a possible zip bomb: its part {member.filename} "
                f"would inflate {member.file_size // max(member.compress_size, 1):,} times (at "
                f"most {max_ratio} is accepted). " + RESAVE
            )
    if total > max_total:
        raise UnusableFile(
            f"This .xlsx file would inflate to {total / 1024**3:.1f} GB (at most "
            f"{max_total / 1024**3:.1f} GB is accepted) and is refused as a possible zip bomb. "
            "Keep only the columns gk_click_id, EventId, Status and Reason, or split the rows "
            "into several files."
        )


def _xml_parse_small(archive: zipfile.ZipFile, name: str) -> etree._Element:
    try:
        data = archive.read(name)
    except KeyError as error:
        raise UnusableFile(
            f"This .xlsx file is not an Excel workbook (it has no {name}). {RESAVE}"
        ) from error
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as error:
        raise UnusableFile(f"This .xlsx file is damaged ({error}). {RESAVE}") from error
    _dtd_refuse(data[:4096], name)
    try:
        return etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as error:
        raise UnusableFile(f"This .xlsx file is damaged ({name}: {error}). {RESAVE}") from error


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def _dtd_refuse(head: bytes, name: str) -> None:
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        raise UnusableFile(
            f"This .xlsx file is refused: its part {name} declares XML entities (a DTD), which "
            "Excel never writes and which can be used to blow up memory. " + RESAVE
        )


def _parts_find(archive: zipfile.ZipFile) -> _Parts:
    workbook = _xml_parse_small(archive, "xl/workbook.xml")
    rels = _xml_parse_small(archive, "xl/_rels/workbook.xml.rels")
    targets = {}
    shared_strings = None
    for rel in rels.iter(f"{REL_NS}Relationship"):
        target = rel.get("Target", "")
        target = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
        targets[rel.get("Id")] = posixpath.normpath(target)
        if (rel.get("Type") or "").endswith("/sharedStrings"):
            shared_strings = posixpath.normpath(target)
    sheet = workbook.find(f"{MAIN_NS}sheets/{MAIN_NS}sheet")
    sheet_path = targets.get(sheet.get(f"{DOC_REL_NS}id")) if sheet is not None else None
    names = set(archive.namelist())
    if sheet_path is None or sheet_path not in names:
        raise UnusableFile(f"This .xlsx workbook has no readable first sheet. {RESAVE}")
    if shared_strings is not None and shared_strings not in names:
        shared_strings = None
    return _Parts(sheet_path, shared_strings)


# A formula element, <f> or <x:f> with attributes or none: its name's end and the next byte.
_FORMULA_STARTS = (b"<f", b":f")
_FORMULA_NEXT = frozenset(b" \t\r\n/>")
# The start of a cell element, <c …> or <x:c …>.
_CELL_STARTS = (b"<c ", b"<c>", b":c ")


def xlsx_for_values_reader(path: Path | str, *, max_cells: int) -> bool:
    """Whether a reader that sees only values and holds every cell in memory (python-calamine:
    a formula's cached result, no DTD) reads the first sheet as ``xlsx_rows`` would, within
    ``max_cells``: no formula, no DTD in the sheet or the shared strings, at most that many
    cells. Decompresses the sheet once (0.4 s for 131 MB of XML, measured); a false alarm
    (":f " in an inline string) only means that the slower reader is used. Raises
    ``UnusableFile`` as ``xlsx_rows`` would."""
    with _open_zip(path) as archive:
        parts = _parts_find(archive)
        try:
            for name in filter(None, (parts.sheet, parts.shared_strings)):
                with archive.open(name) as stream:
                    head = stream.read(4096)
                    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
                        return False
                    if name == parts.sheet and not _values_only(stream, head, max_cells):
                        return False
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as error:
            raise UnusableFile(f"This .xlsx file is damaged ({error}). {RESAVE}") from error
    return True


def _values_only(stream: IO[bytes], head: bytes, max_cells: int) -> bool:
    chunk, cells = head, 0
    while chunk:
        for start in _FORMULA_STARTS:
            at = chunk.find(start)
            while at != -1:
                if at + 2 >= len(chunk) or chunk[at + 2] in _FORMULA_NEXT:
                    return False  # (at the chunk's end: assume the worst)
                at = chunk.find(start, at + 2)
        cells += sum(chunk.count(start) for start in _CELL_STARTS)
        if cells > max_cells:
            return False
        more = stream.read(1024 * 1024)
        # Two bytes again: a name cut at the chunk's end (never a whole cell start, counted).
        chunk = chunk[-2:] + more if more else b""
    return True


class _SharedStrings:
    """The workbook's shared strings, packed in one UTF-8 buffer with an offset table."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.offsets = array("Q", [0])

    def append(self, text: str) -> None:
        self.buffer += text.encode("utf-8")
        self.offsets.append(len(self.buffer))

    def __getitem__(self, index: int) -> str:
        if index < 0:
            raise IndexError(index)
        return self.buffer[self.offsets[index] : self.offsets[index + 1]].decode("utf-8")

    def __len__(self) -> int:
        return len(self.offsets) - 1


def _shared_strings_read(archive: zipfile.ZipFile, name: str | None) -> _SharedStrings:
    strings = _SharedStrings()
    if name is None:
        return strings
    _, _, max_bytes = _limits()
    if archive.getinfo(name).file_size > max_bytes:
        raise UnusableFile(
            "This .xlsx file has too much distinct text to read safely "
            f"({archive.getinfo(name).file_size / 1024**2:,.0f} MB of shared strings). Keep "
            "only the columns gk_click_id, EventId, Status and Reason, or split the rows into "
            "several files."
        )
    text_tag = f"{MAIN_NS}t"
    with archive.open(name) as stream:
        for item in _iterparse(stream, name, f"{MAIN_NS}si"):
            if len(item) == 1 and item[0].tag == text_tag:
                strings.append(item[0].text or "")
            else:  # rich text: runs of <r><t>…</t></r>; phonetic hints (<rPh>) left out
                strings.append(
                    "".join(
                        t.text or ""
                        for t in item.iter(text_tag)
                        if t.getparent().tag != f"{MAIN_NS}rPh"
                    )
                )
    return strings


def _iterparse(stream: IO[bytes], name: str, tag: str) -> Iterator[etree._Element]:
    try:
        head = stream.peek(4096)[:4096] if hasattr(stream, "peek") else b""
        _dtd_refuse(head, name)
        events = etree.iterparse(
            stream,
            events=("end",),
            tag=tag,
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
        )
        for count, (_, element) in enumerate(events, 1):
            yield element
            # Free what has been read: every 256 elements, the earlier siblings whole (cheaper
            # than clearing each one; memory holds at most 256 rows).
            if count % 256 == 0:
                parent = element.getparent()
                if parent is not None:
                    del parent[:-1]
    except etree.XMLSyntaxError as error:
        raise UnusableFile(f"This .xlsx file is damaged ({name}: {error}). {RESAVE}") from error
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as error:
        raise UnusableFile(f"This .xlsx file is damaged ({error}). {RESAVE}") from error


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
    path: Path | str, *, progress: Progress | None = None, max_columns: int = 1000
) -> Rows:
    """Rows of the first sheet. A row wider than ``max_columns`` is cut to ``max_columns + 1``
    cells (enough for the row check to see that it is too wide)."""
    with _open_zip(path) as archive:
        parts = _parts_find(archive)
        strings = _shared_strings_read(archive, parts.shared_strings)
        total = archive.getinfo(parts.sheet).file_size
        cell_tag, value_tag, formula_tag = f"{MAIN_NS}c", f"{MAIN_NS}v", f"{MAIN_NS}f"
        inline_tag, text_tag = f"{MAIN_NS}is", f"{MAIN_NS}t"
        columns = _Columns()
        # Shared strings looked up inline: the lookup runs for most cells of the sheet.
        text_buffer, text_offsets, last = strings.buffer, strings.offsets, len(strings)
        digits = "0123456789"
        with archive.open(parts.sheet) as stream:
            row_number = 0
            for count, row in enumerate(_iterparse(stream, parts.sheet, f"{MAIN_NS}row")):
                reference = row.get("r")
                row_number = int(reference) if reference and reference.isdigit() else row_number + 1
                cells: list[str] = []
                for cell in row:
                    if cell.tag != cell_tag:
                        continue
                    reference = cell.get("r")
                    column = columns[reference.rstrip(digits)] if reference else len(cells)
                    if column > max_columns:
                        cells.extend([""] * (max_columns + 1 - len(cells)))
                        break
                    if column > len(cells):
                        cells.extend([""] * (column - len(cells)))
                    # The usual cell, <c t="s"><v>12</v></c> or <c><v>12</v></c>, inline.
                    kind = cell.get("t")
                    if len(cell) == 1 and cell[0].tag == value_tag and kind in ("s", None):
                        value = cell[0].text
                        if value is None:
                            cells.append("")
                        elif kind is None:
                            cells.append(value)
                        elif value.isdigit() and value.isascii() and (index := int(value)) < last:
                            start, end = text_offsets[index], text_offsets[index + 1]
                            cells.append(text_buffer[start:end].decode())
                        else:
                            cells.append(_shared(strings, value, cell))
                    # The usual inline string (openpyxl's, our export's): <c t="inlineStr"><is>
                    # <t>text</t></is></c>.
                    elif (
                        kind == "inlineStr"
                        and len(cell) == 1
                        and len(inline := cell[0]) == 1
                        and inline.tag == inline_tag
                        and inline[0].tag == text_tag
                    ):
                        cells.append(inline[0].text or "")
                    else:
                        cells.append(_cell_value(cell, strings, value_tag, formula_tag, inline_tag))
                if progress is not None and count % 8192 == 0:
                    progress(stream.tell(), total)
                yield row_number, cells
        if progress is not None:
            progress(total, total)


def _cell_value(
    cell: etree._Element,
    strings: _SharedStrings,
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


def _shared(strings: _SharedStrings, value: str, cell: etree._Element) -> str:
    try:
        return strings[int(value)]
    except (ValueError, IndexError):
        raise UnusableFile(
            f"This .xlsx file is damaged (cell {cell.get('r')} points to a missing shared "
            f"string). {RESAVE}"
        ) from None
