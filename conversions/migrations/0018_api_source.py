"""The Management API as a source of changes (issue 22): audit source ``api`` and job kind
``api``; the approval window's index of a user's own single changes covers the API's too
(``change_sets.approval``: a key cannot escape four-eyes approval one conversion at a time).
"""

from django.conf import settings
from django.db import migrations, models

_SOURCES = [
    ("postback", "Postback"),
    ("admin", "Admin"),
    ("bulk_import", "Bulk import"),
    ("revert", "Revert"),
    ("pending_time", "Pending time elapsed"),
    ("api", "Management API"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("conversions", "0017_postback_token_digests"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(model_name="statuschange", name="statuschange_admin_single"),
        migrations.AlterField(
            model_name="conversion",
            name="status_source",
            field=models.CharField(choices=_SOURCES, max_length=16),
        ),
        migrations.AlterField(
            model_name="importjob",
            name="kind",
            field=models.CharField(
                choices=[
                    ("file", "File import"),
                    ("action", "Selected conversions"),
                    ("revert", "Revert"),
                    ("api", "API change set"),
                ],
                default="file",
                max_length=8,
            ),
        ),
        migrations.AlterField(
            model_name="statuschange",
            name="source",
            field=models.CharField(choices=_SOURCES, max_length=16),
        ),
        migrations.AddIndex(
            model_name="statuschange",
            index=models.Index(
                condition=models.Q(("import_job__isnull", True), ("source__in", ["admin", "api"])),
                fields=["user", "created_at"],
                name="statuschange_own_single",
            ),
        ),
    ]
