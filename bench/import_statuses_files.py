"""The import benchmark's file (``bench/import_statuses.py``: a status file, or with ``--create``
a conversion upload), written as a stream: CSV by the csv module, XLSX by a minimal writer
(shared strings as Excel writes them, or inline strings as openpyxl does), XLS by xlwt (at most
65,535 rows). Each writer takes from ``rows`` only the rows it writes."""

from __future__ import annotations

import csv
import string
import zipfile
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from xml.sax.saxutils import escape

from bench.import_statuses_fill import HEADER


def write_csv(
    path: Path, rows: Iterator[list], *, header: list[str], max_rows: int, max_bytes: int
) -> int:
    count = 0
    rows = iter(rows)
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        # The limits checked before the next row is taken.
        while count < max_rows and (count % 1000 or out.tell() < max_bytes - 131_072):
            row = next(rows, None)
            if row is None:
                break
            writer.writerow(row)
            count += 1
    return count


XLSX_PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
        'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.'
        'openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'
    ),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    ),
    "xl/workbook.xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        '<sheets><sheet name="Statuses" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/worksheet" Target="worksheets/sheet1.xml"/>'
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>'
    ),
}


def write_xlsx(
    path: Path, rows: Iterator[list], *, header: list[str], max_rows: int, shared: bool
) -> int:
    """A minimal workbook written as a stream: shared strings (Excel) or inline (openpyxl)."""
    strings: dict[str, int] = {}
    count = 0

    def cell(reference: str, value: object) -> str:
        if isinstance(value, int):
            return f'<c r="{reference}"><v>{value}</v></c>'
        if value == "":
            return ""
        if shared:
            return f'<c r="{reference}" t="s"><v>{strings.setdefault(value, len(strings))}</v></c>'
        return f'<c r="{reference}" t="inlineStr"><is><t>{escape(value)}</t></is></c>'

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for name, text in XLSX_PARTS.items():
            archive.writestr(name, text)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(
                b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns='
                b'"http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
            )
            buffer = []

            def row_xml(number: int, values: list) -> str:
                letters = string.ascii_uppercase
                cells = "".join(cell(f"{letters[i]}{number}", v) for i, v in enumerate(values))
                return f'<row r="{number}">{cells}</row>'

            buffer.append(row_xml(1, header))
            for row in islice(rows, max_rows):
                count += 1
                buffer.append(row_xml(count + 1, row))
                if len(buffer) >= 5000:
                    sheet.write("".join(buffer).encode())
                    buffer = []
            sheet.write("".join(buffer).encode() + b"</sheetData></worksheet>")
        with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as table:
            table.write(
                b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sst xmlns="http://'
                b'schemas.openxmlformats.org/spreadsheetml/2006/main">'
            )
            buffer = []
            for text in strings:
                buffer.append(f"<si><t>{escape(text)}</t></si>")
                if len(buffer) >= 5000:
                    table.write("".join(buffer).encode())
                    buffer = []
            table.write("".join(buffer).encode() + b"</sst>")
    return count


def write_xls(path: Path, rows: Iterator[list], *, header: list[str], max_rows: int) -> int:
    import xlwt

    book = xlwt.Workbook()
    sheet = book.add_sheet("Statuses")
    for column, value in enumerate(header):
        sheet.write(0, column, value)
    count = 0
    for row in islice(rows, min(max_rows, 65_535)):
        count += 1
        for column, value in enumerate(row):
            if value != "":
                sheet.write(count, column, value)
    book.save(str(path))
    return count


def status_file_write(
    path: Path,
    rows: Iterator[list],
    *,
    file_format: str,
    max_rows: int,
    max_bytes: int,
    xlsx_shared: bool,
    header: list[str] = HEADER,
) -> int:
    """Write ``header`` and ``rows`` to ``path`` in ``file_format`` (csv, xlsx or xls); the rows
    written. Only the CSV stops at ``max_bytes``."""
    if file_format == "csv":
        return write_csv(path, rows, header=header, max_rows=max_rows, max_bytes=max_bytes)
    if file_format == "xlsx":
        return write_xlsx(path, rows, header=header, max_rows=max_rows, shared=xlsx_shared)
    return write_xls(path, rows, header=header, max_rows=max_rows)
