"""The columns of a status file and the check of each row, before any database look-up.

Columns are found in the header row (the first row with anything in it), matched ignoring
case, spaces and underscores; the first column matching a name wins, and extra columns are
ignored, so the conversion report exported from Conversion Management, edited, imports back:

- the conversion: ``EventId`` (also ``ID``, ``Conversion Event ID``, ``Conversion ID``);
- the click: ``gk_click_id`` (also ``Click ID``);
- ``Status``: Pending, Success or Rejected, in any case;
- ``Reason`` (optional; also ``Status reason``, ``Rejection reason``).

A file needs ``Status`` and at least one of the two ids. A row with nothing in any of these
columns is skipped (spreadsheets often end with blank rows) and not counted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

from conversions.imports.reading.limits import MAX_COLUMNS
from conversions.imports.reading.types import UnusableFile
from conversions.models import Status
from conversions.reports.formulas import formula_unescape

MAX_CLICK_ID_CHARS = 64
MAX_REASON_CHARS = 1000
# Original values kept for the report of rejected rows are cut to this length.
REPORT_VALUE_CHARS = 200

COLUMN_NAMES = {
    "event_id": ("eventid", "id", "conversioneventid", "conversionid"),
    "gk_click_id": ("gkclickid", "clickid"),
    "status": ("status",),
    "reason": ("reason", "statusreason", "rejectionreason"),
}
STATUSES = {status.value: status.value for status in Status}
STATUS_LABELS = ", ".join(str(status.label) for status in Status)
# An EventId: ASCII digits, or a spreadsheet's number form of them (123.0, 1.23E+5); never
# "+5", "1_0" or other scripts' digits, which Python's int() and float() would take.
_EVENT_ID = re.compile(r"[0-9]+(?:\.0*)?|[0-9](?:\.[0-9]+)?[Ee]\+?[0-9]{1,2}")
# A gk_click_id as the click redirect gives it (the postback accepts the same).
_CLICK_ID = re.compile(r"[A-Za-z0-9_-]+")
# What PostgreSQL text cannot hold: NUL, and (from a broken XLS) unpaired UTF-16 surrogates.
_NOT_STORABLE = re.compile("[\x00\ud800-\udfff]")


class Columns(NamedTuple):
    """Index of each column in the row (``None``: absent) and its header as written."""

    gk_click_id: int | None
    event_id: int | None
    status: int
    reason: int | None
    headers: dict[str, str]


class StagedRow(NamedTuple):
    """One row as staged: original texts (cut for the report), parsed values, or an error."""

    row_number: int
    gk_click_id: str
    event_id_text: str
    status_text: str
    reason: str
    event_id: int | None
    status: str | None
    error: str | None


def header_key(text: str) -> str:
    return "".join(text.split()).replace("_", "").lower().lstrip("\ufeff")


def storable(text: str) -> str:
    """``text`` with what PostgreSQL text cannot hold shown as U+FFFD (for messages and the
    report of rejected rows; a value that needs it is never applied)."""
    return _NOT_STORABLE.sub("\ufffd", text)


def columns_find(header: list[str]) -> Columns:
    """The columns of a header row; ``UnusableFile`` when a needed one is missing."""
    header = [storable(text) for text in header]
    if len(header) > MAX_COLUMNS:
        raise UnusableFile(
            f"The header row has {len(header):,} columns or more (at most {MAX_COLUMNS:,}). "
            "Keep the columns gk_click_id, EventId, Status and Reason."
        )
    keys = [header_key(text) for text in header]
    found: dict[str, int] = {}
    for field, names in COLUMN_NAMES.items():
        for name in names:
            if name in keys:
                found[field] = keys.index(name)
                break
    missing = []
    if "status" not in found:
        missing.append("Status")
    if "gk_click_id" not in found and "event_id" not in found:
        missing.append("gk_click_id or EventId")
    if missing:
        seen = ", ".join(f"“{text}”" for text in header if text.strip())[:300] or "none"
        raise UnusableFile(
            f"The header row has no {' and no '.join(missing)} column. A status file needs the "
            f"columns gk_click_id and/or EventId, Status, and optionally Reason, named in its "
            f"first row (found: {seen})."
        )
    return Columns(
        gk_click_id=found.get("gk_click_id"),
        event_id=found.get("event_id"),
        status=found["status"],
        reason=found.get("reason"),
        headers={field: header[index].strip() for field, index in found.items()},
    )


def _cut(text: str) -> str:
    text = text if len(text) <= REPORT_VALUE_CHARS else text[:REPORT_VALUE_CHARS] + "…"
    return storable(text)


def row_check(row_number: int, cells: list[str], columns: Columns) -> StagedRow | None:
    """The staged form of a data row, ``None`` for a blank one. Never raises for bad values:
    they become the row's ``error``."""
    click, event, status_text, reason = _row_values(cells, columns)
    if not (click or event or status_text or reason):
        return None
    error = _row_error(len(cells), click, event, status_text, reason, columns)
    event_id = None
    if error is None and event:
        event_id = _event_id_parse(event)
        if event_id is None:
            error = f"EventId “{_cut(event)}” is not a conversion number."
    reason = formula_unescape(reason)  # the export's formula escape, undone
    if error is not None:
        return StagedRow(
            row_number,
            _cut(click),
            _cut(event),
            _cut(status_text),
            _cut(reason),
            None,
            None,
            error,
        )
    status = STATUSES[status_text.lower()]
    return StagedRow(row_number, click, event, status_text, reason, event_id, status, None)


def _row_values(cells: list[str], columns: Columns) -> tuple[str, str, str, str]:
    """The row's gk_click_id, EventId, Status and Reason, stripped; "" for a column the file
    lacks or the row is too short to reach."""
    width = len(cells)

    def value(index: int | None) -> str:
        return cells[index].strip() if index is not None and index < width else ""

    return (
        value(columns.gk_click_id),
        value(columns.event_id),
        value(columns.status),
        value(columns.reason),
    )


def _row_error(
    width: int, click: str, event: str, status_text: str, reason: str, columns: Columns
) -> str | None:
    """The first thing wrong with a row's values, but for its EventId's number (``row_check``
    parses it once, for the staged row too); ``None`` when nothing is."""
    if width > MAX_COLUMNS:
        return (
            f"The row has more than {MAX_COLUMNS:,} columns; a status file needs only "
            "gk_click_id, EventId, Status and Reason."
        )
    if formula := _formula_column(click, event, status_text, reason, columns):
        return (
            f"{formula} holds a formula, not a value. Replace formulas with their values (Copy, "  # noqa: S608
            "then Paste Special › Values) and upload again."
        )
    if not click and not event:
        return "Neither gk_click_id nor EventId is filled in."
    if unstorable := _unstorable_column(click, event, status_text, reason, columns):
        return (
            f"{unstorable} holds a NUL character or a broken one (a lone UTF-16 surrogate), "
            "which is not text; delete it from that cell and upload again."
        )
    if len(click) > MAX_CLICK_ID_CHARS:
        return f"gk_click_id is {len(click):,} characters long; click ids have at most 64."
    if click and not _CLICK_ID.fullmatch(click):
        return f"gk_click_id “{_cut(click)}” is not a click id (letters, digits, _ and - only)."
    if STATUSES.get(status_text.lower()) is None:
        return (
            f"Status “{_cut(status_text)}” is not one of {STATUS_LABELS}."
            if status_text
            else f"Status is empty; use {STATUS_LABELS}."
        )
    if len(reason) > MAX_REASON_CHARS:
        return f"Reason is {len(reason):,} characters long; at most {MAX_REASON_CHARS:,}."
    return None


def row_checker(columns: Columns) -> Callable[[int, list[str]], StagedRow | None]:
    """``row_check`` for these columns, with a fast path for the common, valid row (this runs
    once per row of files of millions of rows: plain tuples, no helper calls)."""
    click_at, event_at, status_at, reason_at = (
        columns.gk_click_id,
        columns.event_id,
        columns.status,
        columns.reason,
    )
    needed = max(i for i in (click_at, event_at, status_at, reason_at) if i is not None) + 1
    statuses = STATUSES
    new = tuple.__new__
    click_id, not_storable = _CLICK_ID.fullmatch, _NOT_STORABLE.search

    def check(row_number: int, cells: list[str]) -> StagedRow | None:
        width = len(cells)
        if needed <= width <= MAX_COLUMNS:
            click = cells[click_at].strip() if click_at is not None else ""
            event = cells[event_at].strip() if event_at is not None else ""
            status_text = cells[status_at].strip()
            reason = cells[reason_at].strip() if reason_at is not None else ""
            status = statuses.get(status_text.lower())
            if (
                status is not None
                and (click or event)
                and len(click) <= MAX_CLICK_ID_CHARS
                and len(reason) <= MAX_REASON_CHARS
                and (not click or click_id(click))
                and reason[:1] not in ("=", "'")
                and not_storable(reason) is None
            ):
                if not event:
                    return new(
                        StagedRow,
                        (row_number, click, event, status_text, reason, None, status, None),
                    )
                if len(event) <= 18 and event.isdigit() and event.isascii():
                    return new(
                        StagedRow,
                        (row_number, click, event, status_text, reason, int(event), status, None),
                    )
        return row_check(row_number, cells, columns)

    return check


def _formula_column(
    click: str, event: str, status: str, reason: str, columns: Columns
) -> str | None:
    return _column_where(lambda value: value[:1] == "=", click, event, status, reason, columns)


def _unstorable_column(
    click: str, event: str, status: str, reason: str, columns: Columns
) -> str | None:
    return _column_where(
        lambda value: _NOT_STORABLE.search(value) is not None, click, event, status, reason, columns
    )


def _column_where(
    test: Callable[[str], bool], click: str, event: str, status: str, reason: str, columns: Columns
) -> str | None:
    """The header of the first of the row's four values that passes ``test``."""
    for field, value in (
        ("gk_click_id", click),
        ("event_id", event),
        ("status", status),
        ("reason", reason),
    ):
        if test(value):
            return columns.headers.get(field, field)
    return None


def _event_id_parse(text: str) -> int | None:
    if not _EVENT_ID.fullmatch(text):
        return None
    if text.isdigit():
        return int(text) if len(text) <= 18 else None
    number = float(text)  # a spreadsheet's 123.0 or 1.23E+5
    if number.is_integer() and 0 < number < 2**53:
        return int(number)
    return None
