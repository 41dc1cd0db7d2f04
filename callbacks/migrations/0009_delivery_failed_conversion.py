"""The "Callback sent = Failed" filter of Conversion Management: the failed deliveries by
conversion (a partial index of the rare failed rows), and the conversion's deliveries named for
the filter's join (no change in the database).

Built concurrently: a plain CREATE INDEX would block the outbox while it reads the whole table.
"""

import django.db.models.deletion
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("callbacks", "0008_partner_operations"),
        ("conversions", "0013_offer_replaced_postback_tokens"),
    ]

    operations = [
        migrations.AlterField(
            model_name="callbackdelivery",
            name="conversion",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="callback_deliveries",
                to="conversions.conversion",
            ),
        ),
        AddIndexConcurrently(
            model_name="callbackdelivery",
            index=models.Index(
                condition=models.Q(("state", "failed")),
                fields=["conversion", "sequence_number"],
                name="delivery_failed_conversion",
            ),
        ),
    ]
