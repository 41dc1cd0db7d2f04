"""One index for the list's and the API's source filter, alone or with the status, in place
of the source's own: (status_source, status, -id) serves both, and every status change writes
to every index of the table, so the count stays the same.

Built concurrently: on a table of tens of millions of rows a plain CREATE INDEX would block
postbacks and status changes for the minute or so it takes.
"""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("conversions", "0020_conversion_advertiser_parameters")]

    operations = [
        AddIndexConcurrently(
            model_name="conversion",
            index=models.Index(
                fields=["status_source", "status", "-id"], name="conversion_source_status_id"
            ),
        ),
        RemoveIndexConcurrently(model_name="conversion", name="conversion_source_id"),
    ]
