"""The import template: an empty status file, its header row only, as CSV or XLSX.

Its header is the importer's own column names (``conversions.imports.rows``), in the order the
import page explains them, with an example value each on the page rather than in the file: an
example row uploaded by mistake would only be a "not found". Written by the back office's one
CSV writer and its XLSX writer, as the report export is.
"""

from __future__ import annotations

from typing import NamedTuple

from django.http import HttpResponse

from conversions.reports.csv_writer import csv_chunks
from conversions.reports.export import XLSX_CONTENT_TYPE
from conversions.reports.xlsx import xlsx_stream

TEMPLATE_FORMATS = ("csv", "xlsx")
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "xlsx": XLSX_CONTENT_TYPE}


class TemplateColumn(NamedTuple):
    """A column of the status file as the import page explains it."""

    name: str
    needed: str
    meaning: str
    example: str


TEMPLATE_COLUMNS = (
    TemplateColumn(
        "gk_click_id",
        "this, EventId or TransactionId",
        "The click. A row with only gk_click_id changes every event (conversion) of that click.",
        "3f2a9c0e8b7d4a51b6e2c9d04f1a7e38",
    ),
    TemplateColumn(
        "EventId",
        "this, gk_click_id or TransactionId",
        "The conversion event: the report's EventId column. With gk_click_id as well, it must "
        "belong to that click.",
        "184467",
    ),
    TemplateColumn("Status", "required", "Pending, Success or Rejected, in any case.", "Rejected"),
    TemplateColumn(
        "Reason", "optional", "Why: kept in the conversion's status history.", "Duplicate install"
    ),
    TemplateColumn(
        "TransactionId",
        "with OfferId, or gk_click_id or EventId",
        "The advertiser's transaction id (the report's Transaction ID), unique per offer only. "
        "A row naming its conversion several ways is refused unless they all agree.",
        "ORD-2024-118234",
    ),
    TemplateColumn(
        "OfferId",
        "with TransactionId",
        "The offer the transaction id belongs to (the report's Offer ID).",
        "12",
    ),
)
TEMPLATE_HEADER = [column.name for column in TEMPLATE_COLUMNS]

# The columns of a conversion upload (``conversions.imports.upload_rows``), as its page explains
# them.
UPLOAD_TEMPLATE_COLUMNS = (
    TemplateColumn(
        "ClickId", "required", "The click that converted: its gk_click_id.", "3f2a9c0e8b7d4a51"
    ),
    TemplateColumn(
        "EventID",
        "for an offer with several events",
        "The code of the offer's event, as postbacks send it in event.",
        "deposit",
    ),
    TemplateColumn(
        "UserCompletedAt",
        "required",
        "When the user completed, in UTC (or ISO 8601 with its offset); after the click and not "
        "in the future.",
        "2026-12-01 10:00:00",
    ),
    TemplateColumn(
        "Revenue",
        "required",
        "What the advertiser pays, in the offer's currency: digits and a point, no separators.",
        "12.50",
    ),
    TemplateColumn(
        "Reward", "required", "What the partner earns (its payout), the same way.", "4.00"
    ),
    TemplateColumn(
        "TransactionId",
        "optional",
        "The advertiser's transaction id: not already used on the offer.",
        "ORD-2024-118234",
    ),
    TemplateColumn(
        "Status",
        "optional",
        "Pending, Success or Rejected; empty: what the offer gives a postback.",
        "Success",
    ),
    TemplateColumn(
        "Reason", "optional", "Why: kept in the conversion's status history.", "Tracking outage"
    ),
)


def import_template_response(*, file_format: str) -> HttpResponse:
    """The template as a download (``csv`` or ``xlsx``)."""
    if file_format == "csv":
        content = "".join(csv_chunks(TEMPLATE_HEADER)).encode()
    elif file_format == "xlsx":
        content = b"".join(xlsx_stream(TEMPLATE_HEADER, [], sheet_name="Statuses"))
    else:
        raise ValueError(f"Unknown template format {file_format!r}")
    response = HttpResponse(content, content_type=CONTENT_TYPES[file_format])
    response["Content-Disposition"] = (
        f'attachment; filename="conversion-statuses-template.{file_format}"'
    )
    return response
