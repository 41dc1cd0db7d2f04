"""The columns of a status file and the check of each row, before any database look-up.

Columns are found in the header row (the first row with anything in it), matched ignoring
case, spaces and underscores; the first column matching a name wins, and extra columns are
ignored, so the conversion report exported from Conversion Management, edited, imports back:

- the conversion: ``EventId`` (also ``ID``, ``Conversion Event ID``, ``Conversion ID``);
- the click: ``gk_click_id`` (also ``Click ID``);
- ``Status``: Pending, Success or Rejected, in any case;
- ``Reason`` (optional; also ``Status reason``, ``Rejection reason``);
- the advertiser's ids: ``TransactionId`` (also ``Transaction ID``) with ``OfferId`` (also
  ``Offer ID``): transaction ids are unique per offer only, so a file with ``TransactionId``
  needs ``OfferId`` too;
- the amounts: ``Payout`` (also ``Reward``) and ``Revenue``, the conversion's new amounts in the
  offer's currency (``conversions.amounts.amount_parse``: plain digits and a point, nothing
  guessed); a blank cell keeps the amount as it is.

A file needs at least one way to name a conversion, and ``Status`` or an amount column; with an
amount column a row may leave ``Status`` blank (its status stays), but not everything it could
change. A row with nothing in any of these columns is skipped (spreadsheets often end with
blank rows) and not counted.

A header naming one of these columns twice (``Status`` and ``status``, ``EventId`` and ``ID``)
is refused, naming both cells: which one was meant cannot be known.

A row names its conversions by its most specific id: ``EventId``; else ``TransactionId`` with
``OfferId``; else ``gk_click_id`` (every conversion of the click). Every other id the row fills
must agree with what that one names (``conversions.imports.staging`` checks it), or the row is
refused with both.

Files without the advertiser's or the amount columns take the fast path of ``row_checker`` and
stage the eight ``StagedRow`` fields only; files with them stage ``StagedIds`` and
``StagedAmounts`` as well.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import NamedTuple

from conversions.amounts import AmountRefused, amount_parse
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
    "transaction_id": ("transactionid", "advertisertransactionid"),
    "offer_id": ("offerid",),
    "payout": ("payout", "reward"),
    "revenue": ("revenue",),
}
# Each column's name in messages.
COLUMN_LABELS = {
    "gk_click_id": "gk_click_id",
    "event_id": "EventId",
    "status": "Status",
    "reason": "Reason",
    "transaction_id": "TransactionId",
    "offer_id": "OfferId",
    "payout": "Payout",
    "revenue": "Revenue",
}
# The row's values in this order, for unpacking.
_FIELDS = ("gk_click_id", "event_id", "status", "reason", "transaction_id", "offer_id")
_FIELD_OF_NAME = {name: field for field, names in COLUMN_NAMES.items() for name in names}
MAX_TRANSACTION_ID_CHARS = 255  # Conversion.transaction_id
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
    status: int | None
    reason: int | None
    transaction_id: int | None
    offer_id: int | None
    headers: dict[str, str]
    payout: int | None = None
    revenue: int | None = None

    @property
    def with_ids(self) -> bool:
        """Whether the file has the advertiser's ids (``TransactionId``, ``OfferId``)."""
        return self.transaction_id is not None or self.offer_id is not None

    @property
    def with_amounts(self) -> bool:
        """Whether the file has an amount column (``Payout``, ``Revenue``)."""
        return self.payout is not None or self.revenue is not None

    @property
    def full(self) -> bool:
        """Whether its rows stage ``StagedIds`` and ``StagedAmounts`` too."""
        return self.with_ids or self.with_amounts


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


class StagedIds(NamedTuple):
    """The advertiser's ids of a row (files with those columns only), staged after its
    ``StagedRow`` fields."""

    transaction_id: str
    offer_id_text: str
    offer_id: int | None


class StagedAmounts(NamedTuple):
    """The new amounts of a row (files with an amount column only; ``None``: kept), staged
    after its ``StagedIds``."""

    payout_text: str
    revenue_text: str
    new_payout: Decimal | None
    new_revenue: Decimal | None


# A staged row: a ``StagedRow``, or a ``StagedRow``, its ``StagedIds`` and ``StagedAmounts``
# as one tuple.
Staged = tuple[object, ...]


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
    _duplicate_refuse(header, keys)
    found: dict[str, int] = {}
    for field, names in COLUMN_NAMES.items():
        for name in names:
            if name in keys:
                found[field] = keys.index(name)
                break
    missing = []
    if not found.keys() & {"status", "payout", "revenue"}:
        missing.append("Status")
    if not found.keys() & {"gk_click_id", "event_id", "transaction_id"}:
        missing.append("gk_click_id or EventId")
    if "transaction_id" in found and "offer_id" not in found:
        raise UnusableFile(
            f"The header row has a TransactionId column (“{header[found['transaction_id']]}”) "
            "but no OfferId: transaction ids are unique per offer only, so a row names its "
            "conversion by both. Add an OfferId column and upload again."
        )
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
        status=found.get("status"),
        reason=found.get("reason"),
        transaction_id=found.get("transaction_id"),
        offer_id=found.get("offer_id"),
        payout=found.get("payout"),
        revenue=found.get("revenue"),
        headers={field: header[index].strip() for field, index in found.items()},
    )


def _duplicate_refuse(header: list[str], keys: list[str]) -> None:
    """``UnusableFile`` when two header cells name the same column (the same name once case,
    spaces and underscores are ignored, or two names of it, such as ``EventId`` and ``ID``)."""
    first: dict[str, int] = {}
    for index, key in enumerate(keys):
        field = _FIELD_OF_NAME.get(key)
        if field is None:
            continue
        if field not in first:
            first[field] = index
            continue
        before = first[field]
        raise UnusableFile(
            f"The header row names the {COLUMN_LABELS[field]} column twice: "
            f"“{header[before].strip()[:100]}” (column {column_letters(before)}) and "
            f"“{header[index].strip()[:100]}” (column {column_letters(index)}). Which one is "
            "meant cannot be known: delete or rename one of them and upload again."
        )


def column_letters(index: int) -> str:
    """A spreadsheet's name of a column: 0 is A, 25 is Z, 26 is AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _cut(text: str) -> str:
    text = text if len(text) <= REPORT_VALUE_CHARS else text[:REPORT_VALUE_CHARS] + "…"
    return storable(text)


def row_check(row_number: int, cells: list[str], columns: Columns) -> StagedRow | None:
    """The staged form of a data row of a file without the advertiser's ids, ``None`` for a
    blank one. Never raises for bad values: they become the row's ``error``."""
    staged = _row_staged(row_number, cells, columns)
    return None if staged is None else staged[0]


def _row_staged(
    row_number: int, cells: list[str], columns: Columns
) -> tuple[StagedRow, StagedIds, StagedAmounts] | None:
    """The staged form of any data row (its ids and amounts empty when the file has none),
    ``None`` for a blank one."""
    values = _row_values(cells, columns)
    if not any(values.values()):
        return None
    click, event, status_text, reason, transaction, offer = [values[field] for field in _FIELDS]
    payout_text, revenue_text = values["payout"], values["revenue"]
    error = _row_error(len(cells), values, columns)
    event_id = offer_id = None
    amounts: list[Decimal | None] = [None, None]
    if error is None and event:
        event_id = _event_id_parse(event)
        if event_id is None:
            error = f"EventId “{_cut(event)}” is not a conversion number."
    if error is None and offer:
        offer_id = _event_id_parse(offer)
        if offer_id is None:
            error = f"OfferId “{_cut(offer)}” is not an offer number."
    for index, (field, text) in enumerate((("payout", payout_text), ("revenue", revenue_text))):
        if error is None and text:
            try:
                amounts[index] = amount_parse(text, column=_header(columns, field))
            except AmountRefused as refused:
                error = storable(refused.message)
    reason = formula_unescape(reason)  # the export's formula escape, undone
    transaction = formula_unescape(transaction)
    if error is not None:
        return (
            StagedRow(
                row_number,
                _cut(click),
                _cut(event),
                _cut(status_text),
                _cut(reason),
                None,
                None,
                error,
            ),
            StagedIds(_cut(transaction), _cut(offer), None),
            StagedAmounts(_cut(payout_text), _cut(revenue_text), None, None),
        )
    status = STATUSES[status_text.lower()] if status_text else None
    return (
        StagedRow(row_number, click, event, status_text, reason, event_id, status, None),
        StagedIds(transaction, offer, offer_id),
        StagedAmounts(payout_text, revenue_text, *amounts),
    )


def _row_values(cells: list[str], columns: Columns) -> dict[str, str]:
    """The row's value of each column (``COLUMN_NAMES``' order), stripped; "" for a column the
    file lacks or the row is too short to reach."""
    width = len(cells)

    def value(index: int | None) -> str:
        return cells[index].strip() if index is not None and index < width else ""

    return {field: value(getattr(columns, field)) for field in COLUMN_NAMES}


def _header(columns: Columns, field: str) -> str:
    return columns.headers.get(field) or COLUMN_LABELS[field]


def _row_error(width: int, values: dict[str, str], columns: Columns) -> str | None:
    """The first thing wrong with a row's values, but for its EventId's and OfferId's numbers
    (``_row_staged`` parses them once, for the staged row too); ``None`` when nothing is."""
    click, event, status_text, reason, transaction, offer = [values[field] for field in _FIELDS]
    if width > MAX_COLUMNS:
        return (
            f"The row has more than {MAX_COLUMNS:,} columns; a status file needs only "
            "gk_click_id, EventId, Status and Reason."
        )
    if formula := _column_where(lambda value: value[:1] == "=", values, columns):
        return (
            f"{formula} holds a formula, not a value. Replace formulas with their values (Copy, "  # noqa: S608
            "then Paste Special › Values) and upload again."
        )
    if not click and not event and not transaction:
        return (
            "None of gk_click_id, EventId and TransactionId is filled in."
            if columns.with_ids
            else "Neither gk_click_id nor EventId is filled in."
        )
    if unstorable := _column_where(
        lambda value: _NOT_STORABLE.search(value) is not None, values, columns
    ):
        return (
            f"{unstorable} holds a NUL character or a broken one (a lone UTF-16 surrogate), "
            "which is not text; delete it from that cell and upload again."
        )
    if len(click) > MAX_CLICK_ID_CHARS:
        return f"gk_click_id is {len(click):,} characters long; click ids have at most 64."
    if click and not _CLICK_ID.fullmatch(click):
        return f"gk_click_id “{_cut(click)}” is not a click id (letters, digits, _ and - only)."
    if status_text and STATUSES.get(status_text.lower()) is None:
        return f"{_header(columns, 'status')} “{_cut(status_text)}” is not one of {STATUS_LABELS}."
    if not status_text and not columns.with_amounts:
        return f"Status is empty; use {STATUS_LABELS}."
    if not status_text and not values["payout"] and not values["revenue"]:
        return (
            f"Nothing to change: {_changeable(columns)} are all empty. Fill in a status or "
            "an amount, or delete the row."
        )
    if len(reason) > MAX_REASON_CHARS:
        return f"Reason is {len(reason):,} characters long; at most {MAX_REASON_CHARS:,}."
    return _ids_error(transaction, offer, columns)


def _changeable(columns: Columns) -> str:
    """ "Status, Payout and Revenue", as the file names the columns it has of those."""
    names = [
        _header(columns, field)
        for field in ("status", "payout", "revenue")
        if getattr(columns, field) is not None
    ]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _ids_error(transaction: str, offer: str, columns: Columns) -> str | None:
    if len(transaction) > MAX_TRANSACTION_ID_CHARS:
        return (
            f"{_header(columns, 'transaction_id')} is {len(transaction):,} characters long; "
            f"transaction ids have at most {MAX_TRANSACTION_ID_CHARS}."
        )
    if transaction and not offer:
        return (
            f"{_header(columns, 'transaction_id')} is filled in but "
            f"{_header(columns, 'offer_id')} is not: transaction ids are unique per offer only."
        )
    return None


def row_checker(columns: Columns) -> Callable[[int, list[str]], Staged | None]:
    """``row_check`` for these columns, with a fast path for the common, valid row (this runs
    once per row of files of millions of rows: plain tuples, no helper calls); a file with the
    advertiser's ids is checked by ``_full_checker``, one with amounts by ``_amounts_checker``."""
    if columns.with_ids:
        return _full_checker(columns)
    if columns.with_amounts:
        return _amounts_checker(columns)
    assert columns.status is not None  # a file without amounts has Status (columns_find)
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


# An amount the fast path takes: digits, and up to four decimals after a point; anything else
# ("1.", "000000001", "1,5") goes through ``amount_parse``.
_FAST_AMOUNT = re.compile(r"[0-9]{1,8}(?:\.[0-9]{1,4})?")


def _amounts_checker(columns: Columns) -> Callable[[int, list[str]], Staged | None]:
    """The check of a file with amounts (and without the advertiser's ids): a fast path for
    the common, valid row, as ``row_checker``'s, staging what ``_full_checker`` stages (held
    equal by fuzzing); the others through the full check."""
    full = _full_checker(columns)
    click_at, event_at, status_at, reason_at, payout_at, revenue_at = (
        columns.gk_click_id,
        columns.event_id,
        columns.status,
        columns.reason,
        columns.payout,
        columns.revenue,
    )
    at = [click_at, event_at, status_at, reason_at, payout_at, revenue_at]
    needed = max(i for i in at if i is not None) + 1
    statuses = STATUSES
    click_id, not_storable, plain = (
        _CLICK_ID.fullmatch,
        _NOT_STORABLE.search,
        _FAST_AMOUNT.fullmatch,
    )

    def check(row_number: int, cells: list[str]) -> Staged | None:
        width = len(cells)
        if needed <= width <= MAX_COLUMNS:
            click = cells[click_at].strip() if click_at is not None else ""
            event = cells[event_at].strip() if event_at is not None else ""
            status_text = cells[status_at].strip() if status_at is not None else ""
            reason = cells[reason_at].strip() if reason_at is not None else ""
            payout = cells[payout_at].strip() if payout_at is not None else ""
            revenue = cells[revenue_at].strip() if revenue_at is not None else ""
            status = statuses.get(status_text.lower()) if status_text else None
            if (
                (status is not None or (not status_text and (payout or revenue)))
                and (click or event)
                and len(click) <= MAX_CLICK_ID_CHARS
                and len(reason) <= MAX_REASON_CHARS
                and (not click or click_id(click))
                and (not event or (len(event) <= 18 and event.isdigit() and event.isascii()))
                and (not payout or plain(payout))
                and (not revenue or plain(revenue))
                and reason[:1] not in ("=", "'")
                and not_storable(reason) is None
            ):
                return (
                    row_number,
                    click,
                    event,
                    status_text,
                    reason,
                    int(event) if event else None,
                    status,
                    None,
                    "",
                    "",
                    None,
                    payout,
                    revenue,
                    Decimal(payout) if payout else None,
                    Decimal(revenue) if revenue else None,
                )
        return full(row_number, cells)

    return check


def _full_checker(columns: Columns) -> Callable[[int, list[str]], Staged | None]:
    """The check of a file with the advertiser's ids or amounts: every row as ``StagedRow``,
    ``StagedIds`` and ``StagedAmounts`` in one tuple."""

    def check(row_number: int, cells: list[str]) -> Staged | None:
        staged = _row_staged(row_number, cells, columns)
        return None if staged is None else (*staged[0], *staged[1], *staged[2])

    return check


def _column_where(
    test: Callable[[str], bool], values: dict[str, str], columns: Columns
) -> str | None:
    """The header of the first of the row's values that passes ``test``."""
    for field, value in values.items():
        if test(value):
            return _header(columns, field)
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
