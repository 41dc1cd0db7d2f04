"""The approval window reads ``OwnChangesHour`` (migration 0022), no longer the audit rows:
their partial index goes, concurrently (the audit table is the largest)."""

from django.contrib.postgres.operations import RemoveIndexConcurrently
from django.db import migrations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("conversions", "0022_own_changes_hour")]

    operations = [
        RemoveIndexConcurrently(model_name="statuschange", name="statuschange_own_single"),
    ]
