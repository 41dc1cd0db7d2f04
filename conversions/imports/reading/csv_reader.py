"""The CSV reader: strict quotes, bounded memory, no row ever lost.

The file is read in 1 MiB blocks and cut into lines (``\\r\\n``, ``\\n`` or a lone ``\\r``), each
decoded on its own so that a bad byte names its row; a line longer than ``max_row_chars``
bytes is refused before it is decoded (``limits``). A UTF-8 byte order mark (Excel's "CSV
UTF-8") is skipped; the delimiter (comma, semicolon or tab) is the one that splits the header
line into the most fields.

Quotes are parsed strictly, so that a stray quote cannot swallow rows unseen: a field that
starts with ``"`` ends at a ``"`` followed by the delimiter or the end of the line (``""``
inside it is one quote); text right after the closing quote, a quote never closed, or a quoted
field still open on a line that looks like a row of its own (as many delimiters, inside the
quote, as the header has columns less one) refuses the file with the row and line where the
quote opened. A quote inside an unquoted field is kept as text. So every row is a line break
outside quotes, and the row numbers (and the count of rows read) are what the file implies.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from conversions.imports.reading.limits import (
    MAX_COLUMNS,
    ReadLimits,
    cell_too_long_message,
    read_limits,
    row_too_long_message,
)
from conversions.imports.reading.sniffing import SAVE_AS_UTF8
from conversions.imports.reading.types import Progress, Rows, UnusableFile

BLOCK_BYTES = 1024 * 1024
QUOTE = '"'


def csv_rows(
    path: Path | str, *, progress: Progress | None = None, limits: ReadLimits | None = None
) -> Rows:
    """The rows of a CSV file; ``UnusableFile`` for a file that cannot be read row by row."""
    limits = limits or read_limits()
    size = Path(path).stat().st_size
    with open(path, "rb") as raw:
        if raw.read(3) != b"\xef\xbb\xbf":  # UTF-8 byte order mark, as Excel's "CSV UTF-8"
            raw.seek(0)
        parser = _Parser(_Lines(raw, limits.max_row_chars, progress, size), limits)
        yield from parser.rows()


class _Lines:
    """The file's lines, decoded, with the number and the line break of the last one given.

    Each block is decoded at once (a line at a time only to find where a bad byte is) and split
    at "\\n" (a "\\r" before it stays on the line: ``next`` takes it off), or at "\\r" in a
    file whose first block has no "\\n" (old Mac line breaks). A line is refused
    (``_LineTooLong``) once it passes ``max_bytes``: memory holds at most a block and a line."""

    def __init__(self, raw: BinaryIO, max_bytes: int, progress: Progress | None, size: int) -> None:
        self.separator = "\n"
        self.texts = self._split(raw, max_bytes, progress, size)
        self.number = 0
        self.terminator = "\n"

    def next(self) -> str | None:
        text = next(self.texts, None)
        if text is None:
            return None
        self.number += 1
        return self.ending_strip(text)

    def ending_strip(self, text: str) -> str:
        """The line without the "\\r" of its "\\r\\n", its line break noted (for one inside a
        quoted field, kept as written)."""
        if self.separator == "\r":
            self.terminator = "\r"
        elif text[-1:] == "\r":
            self.terminator = "\r\n"
            return text[:-1]
        else:
            self.terminator = "\n"
        return text

    def _split(
        self, raw: BinaryIO, max_bytes: int, progress: Progress | None, size: int
    ) -> Iterator[str]:
        pending = b""
        number = blocks = 0
        separator = b"\n"
        while block := raw.read(BLOCK_BYTES):
            if blocks == 0 and b"\n" not in block and b"\r" in block:
                separator, self.separator = b"\r", "\r"
            blocks += 1
            if progress is not None and blocks % 4 == 0:
                progress(raw.tell(), size)
            data = pending + block
            cut = data.rfind(separator) + 1
            pending = data[cut:]
            if len(pending) > max_bytes + 1:
                raise _LineTooLong(number + data.count(separator, 0, cut) + 1, len(pending))
            if cut:
                try:
                    lines = data[: cut - 1].decode("utf-8").split(self.separator)
                except UnicodeDecodeError:
                    # The good lines first, so that the bad one is met in its row.
                    for line in data[: cut - 1].split(separator):
                        number += 1
                        if len(line) > max_bytes + 1:
                            raise _LineTooLong(number, len(line)) from None
                        yield _decoded(line, number)
                    continue
                if max(map(len, lines)) > max_bytes + 1:
                    long = next(i for i, line in enumerate(lines) if len(line) > max_bytes + 1)
                    raise _LineTooLong(number + long + 1, len(lines[long]))
                number += len(lines)
                yield from lines
        if pending:
            yield _decoded(pending, number + 1)
        if progress is not None:
            progress(size, size)


def _decoded(line: bytes, number: int) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _BadBytes(number, error.start, line[error.start]) from error


class _BadBytes(Exception):
    def __init__(self, line: int, position: int, byte: int) -> None:
        super().__init__(line, position, byte)
        self.line, self.position, self.byte = line, position, byte
        self.in_current_row = False  # a line of a quoted field, not the start of a row


class _LineTooLong(Exception):
    def __init__(self, line: int, length: int) -> None:
        super().__init__(line, length)
        self.line, self.length = line, length
        self.in_current_row = False


class _QuoteError(Exception):
    """A quote problem on the current row; ``message`` says what, without the row."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Parser:
    def __init__(self, lines: _Lines, limits: ReadLimits) -> None:
        self.lines = lines
        self.limits = limits
        self.delimiter = ","
        self.headers: list[str] = []
        # Delimiters, inside one line of a quoted field, that make that line look like a row.
        self.row_like_delimiters = 0

    def rows(self) -> Rows:
        row_number = 0
        first_line = 1
        try:
            text = self.lines.next()
            while text is not None and not text.strip():
                row_number += 1
                text = self.lines.next()
            if text is None:
                raise UnusableFile(
                    "The file has no header row. The first row must name the columns."
                )
            self.delimiter = _delimiter_detect(text)
            row_number += 1
            first_line = self.lines.number
            cells = self._row_cells(row_number, text, first_line)
            self.headers = [cell.strip() for cell in cells]
            self.row_like_delimiters = len(cells) - 1 if len(cells) >= 2 else 0
            yield row_number, cells
            # The usual row, inline: no quote, one line (this runs for millions of rows).
            lines, delimiter, max_cell = self.lines, self.delimiter, self.limits.max_cell_chars
            for raw_text in lines.texts:
                lines.number += 1
                row_number += 1
                text = raw_text[:-1] if raw_text[-1:] == "\r" else raw_text
                if QUOTE in text or len(text) > max_cell:
                    first_line = lines.number
                    cells = self._row_cells(row_number, lines.ending_strip(raw_text), first_line)
                else:
                    cells = text.split(delimiter)
                    if len(cells) > MAX_COLUMNS + 1:
                        del cells[MAX_COLUMNS + 1 :]
                yield row_number, cells
        except _QuoteError as error:
            raise UnusableFile(
                f"Row {row_number} (line {first_line}) cannot be read as CSV: {error.message} "
                "Rows after it would be read wrongly, so nothing is read; fix that row and "
                "upload again."
            ) from error
        except _LineTooLong as error:
            raise UnusableFile(
                row_too_long_message(
                    self._row_of_line(row_number, error.line, error.in_current_row),
                    error.length,
                    self.limits.max_row_chars,
                    what=f" (line {error.line})",
                )
            ) from error
        except _BadBytes as error:
            row = self._row_of_line(row_number, error.line, error.in_current_row)
            raise UnusableFile(
                f"Row {row} (line {error.line}) is not valid UTF-8 text: byte "
                f"0x{error.byte:02X} at character {error.position + 1}. {SAVE_AS_UTF8}"
            ) from error

    def _row_of_line(self, row_number: int, line: int, in_current_row: bool) -> int:
        """The row of a line not read yet (a block is checked before its lines are given): one
        row a line after the last line read, or the current row's lines first."""
        ahead = line - self.lines.number
        return row_number + (ahead - 1 if in_current_row else ahead) if ahead > 0 else row_number

    def _row_cells(self, row_number: int, text: str, first_line: int) -> list[str]:
        """The cells of a row that has quotes or long cells (or is the header)."""
        cells = self._cells(text) if QUOTE in text else text.split(self.delimiter)
        if len(cells) > MAX_COLUMNS + 1:
            del cells[MAX_COLUMNS + 1 :]
        # (the row's lines bound its cells)
        if len(text) > self.limits.max_cell_chars or self.lines.number != first_line:
            self._cells_check(row_number, cells)
        return cells

    def _cells_check(self, row_number: int, cells: list[str]) -> None:
        limit = self.limits.max_cell_chars
        for index, cell in enumerate(cells):
            if len(cell) > limit:
                raise UnusableFile(cell_too_long_message(row_number, index, len(cell), limit))

    def _column(self, index: int) -> str:
        name = self.headers[index] if index < len(self.headers) else ""
        return f"column {index + 1} ({name})" if name else f"column {index + 1}"

    def _cells(self, text: str) -> list[str]:
        """The cells of a row with quotes, reading further lines while a quote is open."""
        delimiter = self.delimiter
        cells: list[str] = []
        at, end = 0, len(text)
        chars = end
        while True:
            if at < end and text[at] == QUOTE:
                column, opened_on = len(cells), self.lines.number
                parts: list[str] = []
                at += 1
                while True:
                    close = text.find(QUOTE, at)
                    if close == -1:  # the quoted value goes on, on the next line
                        self._row_like_check(text[at:], column, opened_on)
                        parts.append(text[at:])
                        parts.append(self.lines.terminator)
                        text = self._quoted_line_next(column, opened_on)
                        chars += len(text) + 1
                        if chars > self.limits.max_row_chars:
                            raise _QuoteError(
                                f"{self._quote_opening(column, opened_on)} is still open after "
                                f"{self.limits.max_row_chars:,} characters."
                            )
                        at, end = 0, len(text)
                        continue
                    if self.lines.number != opened_on:
                        self._row_like_check(text[at:close], column, opened_on)
                    parts.append(text[at:close])
                    if close + 1 < end and text[close + 1] == QUOTE:
                        parts.append(QUOTE)
                        at = close + 2
                        continue
                    at = close + 1
                    break
                cells.append("".join(parts))
                if at == end:
                    return cells
                if text[at] != delimiter:
                    raise _QuoteError(
                        f"{self._column(column)} has text right after its closing quote "
                        f"({text[max(at - 20, 0) : at + 20]!r}). A quote inside a quoted value "
                        'must be doubled ("").'
                    )
                at += 1
                if len(cells) > MAX_COLUMNS:
                    return cells
            else:
                next_delimiter = text.find(delimiter, at)
                if next_delimiter == -1:
                    cells.append(text[at:])
                    return cells
                cells.append(text[at:next_delimiter])
                at = next_delimiter + 1
                if len(cells) > MAX_COLUMNS:
                    return cells

    def _quoted_line_next(self, column: int, opened_on: int) -> str:
        """The next line, inside a quoted value of ``column`` opened on line ``opened_on``
        (a bad line is then in the current row); ``_QuoteError`` at the end of the file."""
        try:
            following = self.lines.next()
        except (_BadBytes, _LineTooLong) as error:
            error.in_current_row = True
            raise
        if following is None:
            raise _QuoteError(
                f"{self._quote_opening(column, opened_on)} is never closed (the file ends "
                "inside it)."
            )
        return following

    def _quote_opening(self, column: int, opened_on: int) -> str:
        return f'the quote (") that opens {self._column(column)} on line {opened_on}'

    def _row_like_check(self, inside: str, column: int, opened_on: int) -> None:
        if self.row_like_delimiters and inside.count(self.delimiter) >= self.row_like_delimiters:
            raise _QuoteError(
                f"{self._quote_opening(column, opened_on)} is "
                f"still open on line {self.lines.number}, which looks like a row of its own "
                f"({inside[:60]!r}). Close the quote on line {opened_on}, or double a quote "
                'that belongs to the text ("").'
            )


def _delimiter_detect(header: str) -> str:
    """Comma, semicolon (Excel in many European locales) or tab: whichever splits the header
    line into the most fields."""
    counts = {}
    for delimiter in (",", ";", "\t"):
        try:
            counts[delimiter] = len(next(csv.reader([header], delimiter=delimiter)))
        except csv.Error:
            counts[delimiter] = header.count(delimiter) + 1
    return max(counts, key=lambda delimiter: (counts[delimiter], delimiter == ","))
