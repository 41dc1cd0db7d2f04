"""The parts of an XLSX workbook, opened safely: the zip's directory, the first sheet and the
shared strings, and the guarded stream every XML part is parsed through.

Before any XML is parsed, the zip's directory is checked (``xlsx_archive_check``): a damaged
zip, a zip that holds no workbook, too many members, a total uncompressed size over
``IMPORT_XLSX_MAX_UNCOMPRESSED_BYTES`` or a member that inflates more than
``IMPORT_XLSX_MAX_RATIO`` times (a zip bomb) are refused. The sizes in the directory cannot
lie: ``zipfile`` stops a member at its declared size and checks its CRC.

The XML parts are parsed by lxml with entity resolution, DTD loading and network access off,
and any part that declares a DTD anywhere before its root element (Excel never writes one; it
is how entity-expansion bombs start) is refused. The sheet and the shared strings are parsed
element by element through ``GuardedStream``, which refuses a ``<row>`` (or an ``<si>``, one
shared string) larger than ``max_row_chars`` bytes while it streams, before lxml has built it
(lxml holds about 30 bytes per byte of markup: 10 million ``<c/>`` in one row took 1.25 GB).
The shared strings are packed into one buffer rather than a Python string each, and refused
above ``IMPORT_XLSX_MAX_SHARED_STRINGS_BYTES`` (128 MB of XML) before they are read.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
import zlib
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from django.conf import settings
from lxml import etree

from conversions.imports.reading.limits import ReadLimits
from conversions.imports.reading.types import UnusableFile

MAIN_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
DOC_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
MAX_MEMBERS = 10_000
# Members smaller than this are not held to the ratio (tiny XML parts compress very well).
RATIO_MIN_BYTES = 1024 * 1024
RESAVE = "Open it in Excel and save it again as an Excel Workbook (.xlsx), then upload it."
# A DTD must come before the root element: the prolog is searched up to it.
_DTD_MARKS = (b"<!DOCTYPE", b"<!ENTITY")
_ROOT_START = re.compile(rb"<[A-Za-z_]")


def _limits() -> tuple[int, int, int]:
    return (
        getattr(settings, "IMPORT_XLSX_MAX_UNCOMPRESSED_BYTES", 2 * 1024**3),
        getattr(settings, "IMPORT_XLSX_MAX_RATIO", 100),
        getattr(settings, "IMPORT_XLSX_MAX_SHARED_STRINGS_BYTES", 128 * 1024**2),
    )


class Parts:
    """Where the first sheet and the shared strings are inside the zip."""

    def __init__(self, sheet: str, shared_strings: str | None) -> None:
        self.sheet = sheet
        self.shared_strings = shared_strings


def xlsx_archive_check(path: Path | str) -> None:
    """Refuse a damaged zip, a zip that is not a workbook, or a bomb-like one; reads only the
    zip directory and the workbook's two small index parts."""
    with zip_open(path) as archive:
        parts_find(archive)


def zip_open(path: Path | str) -> zipfile.ZipFile:
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
        if archive.getinfo(name).file_size > 16 * 1024**2:
            raise UnusableFile(f"This .xlsx file is damaged (its {name} is too large). {RESAVE}")
        data = archive.read(name)
    except KeyError as error:
        raise UnusableFile(
            f"This .xlsx file is not an Excel workbook (it has no {name}). {RESAVE}"
        ) from error
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as error:
        raise UnusableFile(f"This .xlsx file is damaged ({error}). {RESAVE}") from error
    root = _ROOT_START.search(data)
    dtd_refuse(data[: root.start() if root else len(data)], name)
    try:
        return etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as error:
        raise UnusableFile(f"This .xlsx file is damaged ({name}: {error}). {RESAVE}") from error


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def dtd_refuse(prolog: bytes, name: str) -> None:
    """Refuse a part whose prolog (what comes before its root element) declares a DTD."""
    if any(mark in prolog for mark in _DTD_MARKS):
        raise UnusableFile(
            f"This .xlsx file is refused: its part {name} declares XML entities (a DTD), which "
            "Excel never writes and which can be used to blow up memory. " + RESAVE
        )


def parts_find(archive: zipfile.ZipFile) -> Parts:
    workbook = _xml_parse_small(archive, "xl/workbook.xml")
    rels = _xml_parse_small(archive, "xl/_rels/workbook.xml.rels")
    targets, kinds = {}, {}
    shared_strings = None
    for rel in rels.iter(f"{REL_NS}Relationship"):
        target = rel.get("Target", "")
        target = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
        targets[rel.get("Id")] = posixpath.normpath(target)
        kinds[rel.get("Id")] = (rel.get("Type") or "").rpartition("/")[2]
        if kinds[rel.get("Id")] == "sharedStrings":
            shared_strings = posixpath.normpath(target)
    sheet = workbook.find(f"{MAIN_NS}sheets/{MAIN_NS}sheet")
    sheet_id = sheet.get(f"{DOC_REL_NS}id") if sheet is not None else None
    if sheet_id in kinds and kinds[sheet_id] != "worksheet":
        kind = "a chart" if kinds[sheet_id] == "chartsheet" else f"a {kinds[sheet_id]}"
        raise UnusableFile(
            f"The first sheet of this workbook (“{sheet.get('name')}”) is {kind}, not a sheet "
            "of rows. Move the sheet with the status rows first (drag its tab to the left), "
            "save, and upload again."
        )
    sheet_path = targets.get(sheet_id)
    names = set(archive.namelist())
    if sheet_path is None or sheet_path not in names:
        raise UnusableFile(f"This .xlsx workbook has no readable first sheet. {RESAVE}")
    if shared_strings is not None and shared_strings not in names:
        shared_strings = None
    return Parts(sheet_path, shared_strings)


class GuardedStream:
    """A zip member as lxml reads it, refused while it streams: a DTD in its prolog, or more
    than ``max_bytes`` of markup without the start of an ``element`` (a row, a shared string).
    ``offset`` is how far it has been read; ``elements`` how many elements have started."""

    _TAIL = 64

    def __init__(self, stream: IO[bytes], name: str, element: bytes, max_bytes: int) -> None:
        self.stream, self.name, self.max_bytes = stream, name, max_bytes
        self.start = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?" + element + rb"[\s>/]")
        self.element = element.decode()
        self.offset = 0
        self.elements = 0
        self.last_start = 0
        self.in_prolog = True
        self.tail = b""

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size if size and size > 0 else 1024 * 1024)
        window = self.tail + data
        base = self.offset - len(self.tail)
        if self.in_prolog:
            root = _ROOT_START.search(window)
            dtd_refuse(window[: root.start()] if root else window, self.name)
            self.in_prolog = root is None
        for match in self.start.finditer(window):
            at = base + match.start()
            if at > self.last_start or (self.elements == 0 and at >= self.last_start):
                self._gap_check(at)
                self.elements += 1
                self.last_start = at
        self.offset += len(data)
        self.tail = window[-self._TAIL :]
        if data:
            self._gap_check(self.offset - self._TAIL)
        return data

    def _gap_check(self, at: int) -> None:
        if at - self.last_start > self.max_bytes:
            raise GuardedStream.TooLarge(self)

    class TooLarge(Exception):
        def __init__(self, stream: GuardedStream) -> None:
            super().__init__(stream.name, stream.elements)
            self.elements = stream.elements


def iterparse(stream: GuardedStream, tag: str) -> Iterator[etree._Element]:
    """The ``tag`` elements of a part, each freed soon after it is given (memory holds at most
    256 of them and at most about 1 MB of markup)."""
    name = stream.name
    try:
        events = etree.iterparse(
            stream,
            events=("end",),
            tag=tag,
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
        )
        freed_at = 0
        for count, (_, element) in enumerate(events, 1):
            yield element
            # Free what has been read: the earlier siblings whole, every 256 elements or 1 MB
            # of markup (cheaper than clearing each one).
            if count % 256 == 0 or stream.offset - freed_at > 1024 * 1024:
                freed_at = stream.offset
                parent = element.getparent()
                if parent is not None:
                    del parent[:-1]
    except etree.XMLSyntaxError as error:
        raise UnusableFile(f"This .xlsx file is damaged ({name}: {error}). {RESAVE}") from error
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as error:
        raise UnusableFile(f"This .xlsx file is damaged ({error}). {RESAVE}") from error


class SharedStrings:
    """The workbook's shared strings, packed in one UTF-8 buffer with an offset table."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.offsets = array("Q", [0])

    def append(self, text: str) -> None:
        self.buffer += text.encode("utf-8", "surrogatepass")
        self.offsets.append(len(self.buffer))

    def __getitem__(self, index: int) -> str:
        if index < 0:
            raise IndexError(index)
        return self.buffer[self.offsets[index] : self.offsets[index + 1]].decode("utf-8")

    def __len__(self) -> int:
        return len(self.offsets) - 1


def shared_strings_read(
    archive: zipfile.ZipFile, name: str | None, limits: ReadLimits
) -> SharedStrings:
    strings = SharedStrings()
    if name is None:
        return strings
    _, _, max_bytes = _limits()
    if archive.getinfo(name).file_size > max_bytes:
        raise UnusableFile(
            "This .xlsx file has too much distinct text to read safely "
            f"({archive.getinfo(name).file_size / 1024**2:,.0f} MB of shared strings, at most "
            f"{max_bytes / 1024**2:,.0f} MB). Keep only the columns gk_click_id, EventId, Status "
            "and Reason, or split the rows into several files."
        )
    text_tag = f"{MAIN_NS}t"
    with archive.open(name) as raw:
        stream = GuardedStream(raw, name, b"si", limits.max_row_chars)
        try:
            for item in iterparse(stream, f"{MAIN_NS}si"):
                if len(item) == 1 and item[0].tag == text_tag:
                    text = item[0].text or ""
                else:  # rich text: runs of <r><t>…</t></r>; phonetic hints (<rPh>) left out
                    text = "".join(
                        t.text or ""
                        for t in item.iter(text_tag)
                        if t.getparent().tag != f"{MAIN_NS}rPh"
                    )
                if len(text) > limits.max_cell_chars:
                    raise UnusableFile(_shared_string_too_long(len(strings), limits))
                strings.append(text)
        except GuardedStream.TooLarge as error:
            raise UnusableFile(_shared_string_too_long(error.elements - 1, limits)) from error
    return strings


def _shared_string_too_long(index: int, limits: ReadLimits) -> str:
    return (
        f"Shared string {index:,} of this .xlsx file (a text used by cells) is longer than a "
        f"spreadsheet cell can hold ({limits.max_cell_chars:,} characters). Shorten the long "
        "texts, or delete the columns that hold them, then upload again."
    )
