"""The limits every reader enforces while it reads, so that memory never depends on the file's
shape: each is checked before the thing it bounds is built (a line before it is decoded, a row
before the next cell is added), and each has its own message naming the row or the cell.

- ``max_row_chars`` (``IMPORT_READER_MAX_ROW_CHARS``, 1 MiB): one row, the header included, in
  characters (CSV: bytes of its lines; XLSX: bytes of its ``<row>`` element). A status row
  needs a few hundred; an Excel row of 1,000 full-width cells is still far below.
- ``max_cell_chars`` (``IMPORT_READER_MAX_CELL_CHARS``, 32,767): one cell, Excel's own limit,
  so a file Excel wrote never hits it.
- ``MAX_COLUMNS`` (1,000): cells of a row past this are not kept (one more is, so that the row
  check can say that the row is too wide); a run of empty cells costs nothing past it.

They come from Django's settings when they are configured (the worker, and the reader child,
which gets them in its options), else from the defaults here.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_COLUMNS = 1000
DEFAULT_MAX_ROW_CHARS = 1024 * 1024
DEFAULT_MAX_CELL_CHARS = 32_767


@dataclass(frozen=True)
class ReadLimits:
    max_row_chars: int = DEFAULT_MAX_ROW_CHARS
    max_cell_chars: int = DEFAULT_MAX_CELL_CHARS


def read_limits() -> ReadLimits:
    """The limits from Django's settings (the defaults where a setting is absent)."""
    from django.conf import settings

    if not settings.configured:
        return ReadLimits()
    return ReadLimits(
        max_row_chars=getattr(settings, "IMPORT_READER_MAX_ROW_CHARS", DEFAULT_MAX_ROW_CHARS),
        max_cell_chars=getattr(settings, "IMPORT_READER_MAX_CELL_CHARS", DEFAULT_MAX_CELL_CHARS),
    )


def column_letters(index: int) -> str:
    """A spreadsheet's column name of a 0-based index: 0 -> A, 27 -> AB."""
    from openpyxl.utils.cell import get_column_letter  # only for a message: imported late

    return str(get_column_letter(index + 1)) if index < 18_278 else f"column {index + 1}"


def row_too_long_message(row_number: int, chars: int, limit: int, *, what: str = "") -> str:
    name = "The header row" if row_number == 1 else f"Row {row_number}"
    return (
        f"{name}{what} holds more than {limit:,} characters ({chars:,} or more); a status row "
        "needs only gk_click_id, EventId, Status and Reason. Remove the long or extra cells "
        "and upload again."
    )


def cell_too_long_message(row_number: int, column: int, chars: int, limit: int) -> str:
    return (
        f"Cell {column_letters(column)}{row_number} holds {chars:,} characters, more than a "
        f"spreadsheet cell can ({limit:,}). Shorten it or delete that column, then upload again."
    )
