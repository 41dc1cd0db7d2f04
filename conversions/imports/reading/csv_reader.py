"""The CSV reader: the standard ``csv`` module over lines decoded one by one, so that a bad
byte names its row. A UTF-8 byte order mark (Excel's "CSV UTF-8") is skipped; the delimiter
(comma, semicolon or tab) is the one that splits the header line into the most fields."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from conversions.imports.reading.sniffing import SAVE_AS_UTF8
from conversions.imports.reading.types import Progress, Rows, UnusableFile

# A cell longer than this ends the reading of a CSV (it is almost always an unbalanced quote
# swallowing the rest of the file). Shorter, over-long cells are refused row by row.
CSV_MAX_FIELD_CHARS = 16 * 1024 * 1024
csv.field_size_limit(max(csv.field_size_limit(), CSV_MAX_FIELD_CHARS))


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
