"""The reader child process: reads one XLSX or XLS file and writes its rows to stdout.

Run as ``python -m conversions.imports.reading.child FORMAT READER PATH OPTIONS`` by
``process`` (which documents the records and why a child at all). ``READER`` is ``calamine``
(under an address-space limit; a file it cannot read as the reference reader would, or that
stops it at any point, is answered with ``("unread", reason)``) or ``reference``
(``xlsx.xlsx_rows`` or ``xls.xls_rows``; a failure of its own is answered as ``("unusable",
message)`` naming the row, its traceback on stderr). Django is not set up here: the readers'
settings come in ``OPTIONS``.

Every row is held to ``limits`` here, whichever reader gave it: cells past ``MAX_COLUMNS + 1``
dropped, a row or a cell over its limit refused. Rows go out in batches of at most 2,048 rows
or 1 MiB of text, so that the pipe and the worker never hold more; each batch carries the
running CRC-32 of the rows so far, which lets the reference reader, taking over from calamine
part-way, check that the rows already given are the ones it reads (``skip_rows`` and
``skip_crc`` in ``OPTIONS``) and go on from there.
"""

from __future__ import annotations

import json
import marshal
import sys
import traceback
import zlib
from collections.abc import Callable
from typing import Any, BinaryIO

from conversions.imports.reading.limits import (
    MAX_COLUMNS,
    cell_too_long_message,
    read_limits,
    row_too_long_message,
)
from conversions.imports.reading.types import Rows, UnusableFile

BATCH_ROWS = 2048
BATCH_CHARS = 1024 * 1024
# calamine's memory per cell of a sheet, measured at about 70 bytes (295 MB for 1,048,576 rows
# of four cells); a sheet of more cells than the limit allows at this rate is not given to it.
CALAMINE_BYTES_PER_CELL = 80


class _Unread(Exception):
    """calamine will not read this file as the reference reader would."""


class _ReadDifferently(Exception):
    """The reference reader's rows are not the ones calamine gave before it stopped."""


def row_crc(number: int, cells: list[str], crc: int) -> int:
    """The running CRC-32 of the rows given so far, with this one."""
    text = "\x1e".join(cells).encode("utf-8", "surrogatepass")
    return zlib.crc32(text, zlib.crc32(number.to_bytes(4, "little"), crc))


def _child(file_format: str, reader: str, path: str, options: dict[str, Any]) -> None:
    out = sys.stdout.buffer
    dump = _dumper(out)

    def progress(done: int, total: int) -> None:
        dump(("progress", done, total))

    from django.conf import settings

    settings.configure(**options["settings"])
    limits = read_limits()
    rows = _rows_reader(file_format, reader, max_bytes=options["max_bytes"])
    batch: list[tuple[int, list[str]]] = []
    batch_chars = 0
    read = crc = 0
    skip_rows, skip_crc = options.get("skip_rows", 0), options.get("skip_crc", 0)
    row_number = 0
    max_row, max_cell = limits.max_row_chars, limits.max_cell_chars
    try:
        if reader == "calamine" and file_format == "xlsx":
            _calamine_fit_check(path, max_bytes=options["max_bytes"])
        # Once per row: plain locals, and no call but the CRC's for a row within its limits.
        for row_number, cells in rows(path, progress=progress):
            if len(cells) > MAX_COLUMNS + 1:
                del cells[MAX_COLUMNS + 1 :]
            chars = sum(map(len, cells))
            if chars > max_cell:
                _row_limits_check(row_number, cells, chars, max_row=max_row, max_cell=max_cell)
            read += 1
            crc = row_crc(row_number, cells, crc)
            if read <= skip_rows:
                if read == skip_rows and crc != skip_crc:
                    raise _ReadDifferently
                continue
            batch.append((row_number, cells))
            batch_chars += chars
            if len(batch) == BATCH_ROWS or batch_chars > BATCH_CHARS:
                dump(("rows", batch, crc))
                batch, batch_chars = [], 0
        if read < skip_rows:
            raise _ReadDifferently
        dump(("rows", batch, crc))
        dump(("end",))
    except _ReadDifferently:
        dump(("unusable", _READ_DIFFERENTLY))
    except UnusableFile as error:
        if reader == "calamine" and not read:
            dump(("unread", error.message[:300]))
        else:
            dump(("rows", batch, crc))
            dump(("unusable", error.message))
    except BaseException as error:  # noqa: BLE001 -- calamine raises its own kinds, and panics
        if reader == "calamine":
            dump(("unread", f"{type(error).__name__}: {error}"[:300]))
        else:
            traceback.print_exc()
            dump(("rows", batch, crc))
            dump(("unusable", _reader_failed(file_format, row_number, error)))
    out.flush()


def _dumper(out: BinaryIO) -> Callable[[tuple], None]:
    """Writes a record to ``out``: its ``marshal`` bytes after their length (4 bytes)."""

    def dump(record: tuple) -> None:
        data = marshal.dumps(record)
        out.write(len(data).to_bytes(4, "little"))
        out.write(data)

    return dump


def _rows_reader(file_format: str, reader: str, *, max_bytes: int) -> Callable[..., Rows]:
    """The reader asked for; calamine only after this process's address space is limited to
    ``max_bytes`` (imported only then, so that it loads under the limit)."""
    if reader == "calamine":
        import resource

        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (max_bytes, hard))
        from conversions.imports.reading.calamine import calamine_rows

        return calamine_rows
    if file_format == "xlsx":
        from conversions.imports.reading.xlsx import xlsx_rows

        return xlsx_rows
    from conversions.imports.reading.xls import xls_rows

    return xls_rows


def _calamine_fit_check(path: str, *, max_bytes: int) -> None:
    """``_Unread`` for an XLSX that calamine would not read as the reference reader does, or
    whose sheet holds more cells than ``max_bytes`` of its memory."""
    from conversions.imports.reading.xlsx import xlsx_for_values_reader

    max_cells = max_bytes // CALAMINE_BYTES_PER_CELL
    if not xlsx_for_values_reader(path, max_cells=max_cells):
        raise _Unread(
            f"the sheet holds formulas, a DTD, more than {max_cells:,} cells, rows "
            "without numbers or out of order, or a bad shared-string index"
        )


def _row_limits_check(
    row_number: int, cells: list[str], chars: int, *, max_row: int, max_cell: int
) -> None:
    """``UnusableFile`` for a row of ``chars`` characters over the row's limit, or with a cell
    over the cell's (called only for a row longer than a cell may be)."""
    if chars > max_row:
        raise UnusableFile(row_too_long_message(row_number, chars, max_row))
    longest = max(range(len(cells)), key=lambda index: len(cells[index]))
    if len(cells[longest]) > max_cell:
        raise UnusableFile(
            cell_too_long_message(row_number, longest, len(cells[longest]), max_cell)
        )


_READ_DIFFERENTLY = (
    "This file reads differently with each of our two spreadsheet readers, so its rows cannot "
    "be trusted. Open it in Excel and save it again as an Excel Workbook (.xlsx), or as CSV "
    "UTF-8, then upload that."
)


def _reader_failed(file_format: str, row_number: int, error: BaseException) -> str:
    where = f"past row {row_number}" if row_number else "at all"
    return (
        f"This .{file_format} file cannot be read {where} ({type(error).__name__}: "
        f"{str(error)[:200]}). Open it in Excel and save it again as an Excel Workbook (.xlsx) "
        "or as CSV UTF-8, then upload that."
    )


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4]))
