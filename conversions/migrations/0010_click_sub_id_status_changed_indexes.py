"""Indexes for the list's search by partner sub id and its "last status change" date range.

Built concurrently: on a table of tens of millions of rows a plain CREATE INDEX would block
postbacks and status changes for the minute or so it takes.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("conversions", "0009_conversion_tally_view_only_permissions")]

    operations = [
        AddIndexConcurrently(
            model_name="click",
            index=models.Index(fields=["sub_id"], name="click_sub_id"),
        ),
        AddIndexConcurrently(
            model_name="conversion",
            index=models.Index(fields=["status_changed_at"], name="conversion_status_changed"),
        ),
    ]
