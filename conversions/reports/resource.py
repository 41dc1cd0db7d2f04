"""The conversion report's columns (django-import-export's resource of the export).

It describes the mapping only: the export is streamed row by row from the database
(``conversions.reports.export``), its columns taken from this resource in their declared order.
"""

from __future__ import annotations

from import_export import fields, resources

from conversions.models import Conversion


class ConversionReportResource(resources.ModelResource):
    """The conversion report. Its first four columns are the import's, so an exported report
    with its Status column edited imports back."""

    event_id = fields.Field(attribute="id", column_name="EventId")
    gk_click_id = fields.Field(attribute="click__gk_click_id", column_name="gk_click_id")
    status = fields.Field(attribute="status", column_name="Status")
    reason = fields.Field(attribute="status_reason", column_name="Reason")
    offer_id = fields.Field(attribute="offer_id", column_name="Offer ID")
    offer = fields.Field(attribute="offer__name", column_name="Offer")
    event = fields.Field(attribute="offer_event__code", column_name="Event")
    event_name = fields.Field(attribute="offer_event__name", column_name="Event name")
    partner_id = fields.Field(attribute="partner_id", column_name="Partner ID")
    partner = fields.Field(attribute="partner__name", column_name="Partner")
    sub_id = fields.Field(attribute="click__sub_id", column_name="Partner sub id")
    payout = fields.Field(attribute="payout", column_name="Payout")
    revenue = fields.Field(attribute="revenue", column_name="Revenue")
    currency = fields.Field(attribute="offer__currency", column_name="Currency")
    transaction_id = fields.Field(attribute="transaction_id", column_name="Transaction ID")
    created_at = fields.Field(attribute="created_at", column_name="Created (UTC)")
    status_changed_at = fields.Field(
        attribute="status_changed_at", column_name="Status changed (UTC)"
    )
    status_source = fields.Field(attribute="status_source", column_name="Status source")

    class Meta:
        model = Conversion
        name = "Conversion report"
        fields = (
            "event_id",
            "gk_click_id",
            "status",
            "reason",
            "offer_id",
            "offer",
            "event",
            "event_name",
            "partner_id",
            "partner",
            "sub_id",
            "payout",
            "revenue",
            "currency",
            "transaction_id",
            "created_at",
            "status_changed_at",
            "status_source",
        )

    @classmethod
    def report_columns(cls) -> list[tuple[str, str]]:
        """(column header, ORM lookup) of every column, in order."""
        return [(field.column_name, field.attribute) for field in cls().get_export_fields()]
