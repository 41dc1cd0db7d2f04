"""The columns of a conversion upload (conversions that tracking missed) and the check of each
row, before any database look-up. GoKart's "Manual Conversion Upload" columns:

- ``ClickId``: the click's ``gk_click_id`` (also ``gk_click_id``);
- ``EventID``: the code of the offer's event, as postbacks send it in ``event`` (also ``Event``,
  ``Event code``); may be left out, or left empty, for a single-event offer;
- ``UserCompletedAt``: when the user completed, in UTC (``2026-12-01 10:00:00``, ISO 8601 with a
  ``T``, fractions of a second, or an offset such as ``+02:00`` or ``Z``, converted to UTC; a
  spreadsheet's date cell as it stores it);
- ``Revenue`` and ``Reward`` (also ``Payout``): what the advertiser pays and what the partner
  earns, in the offer's currency (``conversions.amounts.amount_parse``: no separators, signs or
  symbols);
- optional ``TransactionId``, ``Status`` (Pending, Success or Rejected; empty: what the offer's
  rewarding mode gives a postback) and ``Reason``.

Columns are matched as in a status file (``conversions.imports.rows``: case, spaces and
underscores ignored; a column named twice is refused). Which click, event and offer a row names,
and whether that conversion exists already, is for ``upload_staging``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from conversions.amounts import AmountRefused, amount_parse
from conversions.imports.reading.limits import MAX_COLUMNS
from conversions.imports.reading.types import UnusableFile
from conversions.imports.rows import (
    MAX_CLICK_ID_CHARS,
    MAX_REASON_CHARS,
    MAX_TRANSACTION_ID_CHARS,
    REPORT_VALUE_CHARS,
    STATUS_LABELS,
    STATUSES,
    column_letters,
    header_key,
    storable,
)
from conversions.reports.formulas import formula_unescape

UPLOAD_COLUMN_NAMES = {
    "gk_click_id": ("clickid", "gkclickid"),
    "event_code": ("eventid", "event", "eventcode"),
    "completed_at": ("usercompletedat", "completedat"),
    "revenue": ("revenue",),
    "payout": ("reward", "payout"),
    "transaction_id": ("transactionid", "advertisertransactionid"),
    "status": ("status",),
    "reason": ("reason", "statusreason", "rejectionreason"),
}
UPLOAD_COLUMN_LABELS = {
    "gk_click_id": "ClickId",
    "event_code": "EventID",
    "completed_at": "UserCompletedAt",
    "revenue": "Revenue",
    "payout": "Reward",
    "transaction_id": "TransactionId",
    "status": "Status",
    "reason": "Reason",
}
_FIELD_OF_NAME = {name: field for field, names in UPLOAD_COLUMN_NAMES.items() for name in names}
_NEEDED = ("gk_click_id", "completed_at", "revenue", "payout")
MAX_EVENT_CODE_CHARS = 64  # OfferEvent.code
_CLICK_ID = re.compile(r"[A-Za-z0-9_-]+")
_EVENT_CODE = re.compile(r"[A-Za-z0-9_-]+")  # a slug, as the offer's events are named
_NOT_STORABLE = re.compile("[\x00\ud800-\udfff]")
# A spreadsheet's date cell, as a reader that does not know its style gives it: days since
# 1899-12-30, the fraction the time of day (from 1970 to 2100: nothing else is a completion).
_SERIAL = re.compile(r"[0-9]{5}(?:\.[0-9]+)?")
_SERIAL_EPOCH = datetime(1899, 12, 30, tzinfo=UTC)
_SERIAL_RANGE = (25569, 73051)
_TIME_FORMAT_HINT = "2026-12-01 10:00:00 (UTC), or ISO 8601 with its offset (+02:00, Z)"


class UploadColumns(NamedTuple):
    """The index of each column in the row (``UPLOAD_COLUMN_LABELS``' fields; absent ones are
    not in it) and its header as written."""

    positions: dict[str, int]
    headers: dict[str, str]


class UploadRow(NamedTuple):
    """One row as staged: its original texts (cut for the report), the parsed values (``status``
    ``None``: the offer's rewarding mode decides), or an error."""

    row_number: int
    gk_click_id: str
    event_code: str
    completed_at_text: str
    revenue_text: str
    payout_text: str
    transaction_id: str
    status_text: str
    reason: str
    completed_at: datetime | None
    revenue: Decimal | None
    payout: Decimal | None
    status: str | None
    error: str | None


UPLOAD_ROW_COLUMNS = UploadRow._fields


def upload_columns_find(header: list[str]) -> UploadColumns:
    """The columns of a conversion upload's header row; ``UnusableFile`` when a needed one is
    missing or one is named twice."""
    header = [storable(text) for text in header]
    if len(header) > MAX_COLUMNS:
        raise UnusableFile(
            f"The header row has {len(header):,} columns or more (at most {MAX_COLUMNS:,}). "
            "Keep the columns ClickId, EventID, UserCompletedAt, Revenue and Reward."
        )
    found: dict[str, int] = {}
    for index, key in enumerate(header_key(text) for text in header):
        field = _FIELD_OF_NAME.get(key)
        if field is None:
            continue
        if field in found:
            before = found[field]
            raise UnusableFile(
                f"The header row names the {UPLOAD_COLUMN_LABELS[field]} column twice: "
                f"“{header[before].strip()[:100]}” (column {column_letters(before)}) and "
                f"“{header[index].strip()[:100]}” (column {column_letters(index)}). Which one "
                "is meant cannot be known: delete or rename one of them and upload again."
            )
        found[field] = index
    missing = [UPLOAD_COLUMN_LABELS[field] for field in _NEEDED if field not in found]
    if missing:
        seen = ", ".join(f"“{text}”" for text in header if text.strip())[:300] or "none"
        raise UnusableFile(
            f"The header row has no {', no '.join(missing)} column. A conversion upload needs "
            "the columns ClickId, UserCompletedAt, Revenue and Reward, EventID for an offer "
            f"with several events, and optionally TransactionId, Status and Reason (found: "
            f"{seen})."
        )
    return UploadColumns(
        positions=found, headers={field: header[at].strip() for field, at in found.items()}
    )


def upload_row_checker(
    columns: UploadColumns, *, now: datetime
) -> Callable[[int, list[str]], UploadRow | None]:
    """The check of one data row (``None`` for a blank one); never raises for bad values:
    they become the row's ``error``. ``now``: a completion after it is refused. The common
    row takes a fast path (``_fast_checker``); every other the full check."""
    fast, full = _fast_checker(columns, now=now), _full_check(columns, now=now)

    def check(row_number: int, cells: list[str]) -> UploadRow | None:
        return fast(row_number, cells) or full(row_number, cells)

    return check


def _full_check(
    columns: UploadColumns, *, now: datetime
) -> Callable[[int, list[str]], UploadRow | None]:
    fields = list(UPLOAD_COLUMN_NAMES)

    def check(row_number: int, cells: list[str]) -> UploadRow | None:
        width = len(cells)
        values = {
            field: cells[at].strip()
            if (at := columns.positions.get(field)) is not None and at < width
            else ""
            for field in fields
        }
        if not any(values.values()):
            return None
        error, (completed_at, revenue, payout, status) = _row_parsed(
            width, values, columns, now=now
        )
        texts = {field: _cut(value) if error else value for field, value in values.items()}
        reason = formula_unescape(texts["reason"])
        transaction = formula_unescape(texts["transaction_id"])
        return UploadRow(
            row_number,
            texts["gk_click_id"],
            texts["event_code"],
            texts["completed_at"],
            texts["revenue"],
            texts["payout"],
            transaction,
            texts["status"],
            reason,
            completed_at if error is None else None,
            revenue if error is None else None,
            payout if error is None else None,
            status if error is None else None,
            error,
        )

    return check


# The common row's time and amounts, as a 100 MB upload writes them: "2026-12-01 10:00:00"
# (or with a T, optionally a Z), "12.50".
_PLAIN_TIME = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[ T]([0-9]{2}):([0-9]{2}):([0-9]{2})Z?")
_PLAIN_AMOUNT = re.compile(r"[0-9]{1,8}(?:\.[0-9]{1,4})?")


def _fast_checker(
    columns: UploadColumns, *, now: datetime
) -> Callable[[int, list[str]], UploadRow | None]:
    """The check of the common, valid row with plain values (this runs once per row of files of
    a million rows: tuple indexing, one regex per value, no helper calls); ``None`` for any row
    it does not take, which the full check then reads (and refuses or stages)."""
    at = columns.positions
    click_at, completed_at_, revenue_at, payout_at = (
        at["gk_click_id"],
        at["completed_at"],
        at["revenue"],
        at["payout"],
    )
    event_at, transaction_at = at.get("event_code"), at.get("transaction_id")
    status_at, reason_at = at.get("status"), at.get("reason")
    needed = max(at.values()) + 1
    click_id, event_code = _CLICK_ID.fullmatch, _EVENT_CODE.fullmatch
    plain_time, plain_amount, not_storable = (
        _PLAIN_TIME.fullmatch,
        _PLAIN_AMOUNT.fullmatch,
        _NOT_STORABLE.search,
    )
    statuses, new = STATUSES, tuple.__new__

    def check(row_number: int, cells: list[str]) -> UploadRow | None:
        if not needed <= len(cells) <= MAX_COLUMNS:
            return None
        click = cells[click_at].strip()
        event = cells[event_at].strip() if event_at is not None else ""
        completed_text = cells[completed_at_].strip()
        revenue_text = cells[revenue_at].strip()
        payout_text = cells[payout_at].strip()
        transaction = cells[transaction_at].strip() if transaction_at is not None else ""
        status_text = cells[status_at].strip() if status_at is not None else ""
        reason = cells[reason_at].strip() if reason_at is not None else ""
        status = statuses.get(status_text.lower()) if status_text else None
        time = plain_time(completed_text)
        if (
            time is None
            or (status_text and status is None)
            or not click
            or len(click) > MAX_CLICK_ID_CHARS
            or not click_id(click)
            or (event and (len(event) > MAX_EVENT_CODE_CHARS or not event_code(event)))
            or not plain_amount(revenue_text)
            or not plain_amount(payout_text)
            or len(transaction) > MAX_TRANSACTION_ID_CHARS
            or len(reason) > MAX_REASON_CHARS
            or transaction[:1] in ("=", "'")
            or reason[:1] in ("=", "'")
            or not_storable(transaction + reason) is not None
        ):
            return None
        try:
            year, month, day, hour, minute, second = map(int, time.groups())
            completed = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        except ValueError:  # no such day or time: the full check says so
            return None
        if completed > now:
            return None
        return new(
            UploadRow,
            (
                row_number,
                click,
                event,
                completed_text,
                revenue_text,
                payout_text,
                transaction,
                status_text,
                reason,
                completed,
                Decimal(revenue_text),
                Decimal(payout_text),
                status,
                None,
            ),
        )

    return check


def _row_parsed(
    width: int, values: dict[str, str], columns: UploadColumns, *, now: datetime
) -> tuple[str | None, tuple[datetime, Decimal, Decimal, str | None]]:
    """The first thing wrong with the row (``None`` when nothing is) and, when nothing is,
    its completion time, revenue, payout and status."""
    nothing = (now, Decimal(0), Decimal(0), None)
    if width > MAX_COLUMNS:
        return f"The row has more than {MAX_COLUMNS:,} columns.", nothing
    for field, value in values.items():
        if value[:1] == "=":
            return (
                f"{_header(columns, field)} holds a formula, not a value. Replace formulas with "  # noqa: S608
                "their values (Copy, then Paste Special › Values) and upload again.",
                nothing,
            )
        if _NOT_STORABLE.search(value):
            return (
                f"{_header(columns, field)} holds a NUL character or a broken one (a lone "
                "UTF-16 surrogate), which is not text; delete it from that cell and upload again.",
                nothing,
            )
    error = _ids_error(values, columns)
    if error:
        return error, nothing
    status_text = values["status"]
    status = STATUSES.get(status_text.lower()) if status_text else None
    if status_text and status is None:
        return (
            f"Status “{_cut(status_text)}” is not one of {STATUS_LABELS} (or leave it empty for "
            "what the offer gives a postback).",
            nothing,
        )
    if len(values["reason"]) > MAX_REASON_CHARS:
        return (
            f"Reason is {len(values['reason']):,} characters long; at most {MAX_REASON_CHARS:,}.",
            nothing,
        )
    try:
        completed_at = completion_parse(values["completed_at"], _header(columns, "completed_at"))
        revenue = amount_parse(values["revenue"], column=_header(columns, "revenue"))
        payout = amount_parse(values["payout"], column=_header(columns, "payout"))
    except AmountRefused as refused:
        return refused.message, nothing
    if completed_at > now:
        return (
            f"{_header(columns, 'completed_at')} {completed_at:%Y-%m-%d %H:%M:%S} UTC is in the "
            "future.",
            nothing,
        )
    return None, (completed_at, revenue, payout, status)


def _ids_error(values: dict[str, str], columns: UploadColumns) -> str | None:
    click, event, transaction = (
        values["gk_click_id"],
        values["event_code"],
        values["transaction_id"],
    )
    if not click:
        return f"{_header(columns, 'gk_click_id')} is empty; name the click that converted."
    if len(click) > MAX_CLICK_ID_CHARS or not _CLICK_ID.fullmatch(click):
        return (
            f"{_header(columns, 'gk_click_id')} “{_cut(click)}” is not a click id (letters, "
            f"digits, _ and - only, at most {MAX_CLICK_ID_CHARS})."
        )
    if event and (len(event) > MAX_EVENT_CODE_CHARS or not _EVENT_CODE.fullmatch(event)):
        return (
            f"{_header(columns, 'event_code')} “{_cut(event)}” is not an event code (letters, "
            f"digits, _ and - only, at most {MAX_EVENT_CODE_CHARS})."
        )
    if len(transaction) > MAX_TRANSACTION_ID_CHARS:
        return (
            f"{_header(columns, 'transaction_id')} is {len(transaction):,} characters long; "
            f"transaction ids have at most {MAX_TRANSACTION_ID_CHARS}."
        )
    return None


def completion_parse(text: str, column: str = "UserCompletedAt") -> datetime:
    """When the user completed, in UTC: ISO 8601 with a time (no offset: UTC), or a
    spreadsheet's date serial. ``AmountRefused`` (the upload's one refusal type) otherwise."""
    shown = f"{column} “{text[:40]}{'…' if len(text) > 40 else ''}”"
    if not text:
        raise AmountRefused(
            f"{column} is empty; write when the user completed, like {_TIME_FORMAT_HINT}."
        )
    if _SERIAL.fullmatch(text):
        days = float(text)
        if _SERIAL_RANGE[0] <= days < _SERIAL_RANGE[1]:
            return (_SERIAL_EPOCH + timedelta(days=days)).replace(microsecond=0)
    try:
        moment = datetime.fromisoformat(
            text.replace(" UTC", "Z") if text.endswith(" UTC") else text
        )
    except ValueError:
        moment = None
    if moment is None or len(text) <= 10:
        raise AmountRefused(f"{shown} is not a date and time; write it as {_TIME_FORMAT_HINT}.")
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _header(columns: UploadColumns, field: str) -> str:
    return columns.headers.get(field) or UPLOAD_COLUMN_LABELS[field]


def _cut(text: str) -> str:
    text = text if len(text) <= REPORT_VALUE_CHARS else text[:REPORT_VALUE_CHARS] + "…"
    return storable(text)
