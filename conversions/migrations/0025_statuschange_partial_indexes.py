"""The audit rows' user and import job indexed only where they are set: a postback's or the
pending time's audit row has neither, and most rows are theirs, so the full indexes held tens
of millions of NULL entries and took two index writes per postback for nothing. A query by
either (Django's PROTECT check, a revert's staging by ``import_job_id = …``) names a value, so
the partial index serves it.

The new indexes are built, and the old ones dropped, concurrently: the audit table is the
largest, and a plain CREATE or DROP INDEX would block the postbacks writing to it.
"""

from django.conf import settings
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models

# Django's names for the foreign keys' own indexes (the same in every database).
_OLD = {
    "user_id": "conversions_statuschange_user_id_80e6e04b",
    "import_job_id": "conversions_statuschange_import_job_id_02c0db40",
}


def _drop(column: str) -> migrations.RunSQL:
    return migrations.RunSQL(
        f"DROP INDEX CONCURRENTLY IF EXISTS {_OLD[column]}",
        reverse_sql=f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {_OLD[column]} "
        f"ON conversions_statuschange ({column})",
    )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("conversions", "0024_click_is_test"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="statuschange",
            index=models.Index(
                condition=models.Q(("user__isnull", False)),
                fields=["user"],
                name="statuschange_user",
            ),
        ),
        AddIndexConcurrently(
            model_name="statuschange",
            index=models.Index(
                condition=models.Q(("import_job__isnull", False)),
                fields=["import_job"],
                name="statuschange_import_job",
            ),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="statuschange",
                    name="user",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="statuschange",
                    name="import_job",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=models.deletion.PROTECT,
                        related_name="+",
                        to="conversions.importjob",
                    ),
                ),
            ],
            database_operations=[_drop("user_id"), _drop("import_job_id")],
        ),
    ]
