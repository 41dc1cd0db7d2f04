"""The column mapping of Conversion Management's import (django-import-export).

The resource describes the mapping only. Nothing reads a file or builds a tablib ``Dataset``
through it: the upload goes to an ``ImportJob`` (streamed, validated and applied set-based by
a Celery worker). It is what import-export's page shows as "this importer will import the
following fields". The export's resource is ``conversions.reports.resource``.
"""

from __future__ import annotations

from import_export import fields, resources

from conversions.models import Conversion


class ConversionStatusImportResource(resources.ModelResource):
    """The columns a status file carries. Headers match ignoring case, spaces and underscores;
    extra columns (such as the rest of an exported report) are ignored."""

    gk_click_id = fields.Field(attribute="click__gk_click_id", column_name="gk_click_id")
    event_id = fields.Field(attribute="id", column_name="EventId")
    status = fields.Field(attribute="status", column_name="Status")
    reason = fields.Field(attribute="status_reason", column_name="Reason")

    class Meta:
        model = Conversion
        name = "Conversion statuses (gk_click_id, EventId, Status, Reason)"
        fields = ("gk_click_id", "event_id", "status", "reason")
