"""Record on each audit row whether its change owed the partner a callback, so that
``audit_verify`` can prove every owed callback has its outbox row whatever the partner's
toggles say today. Existing rows: owed when an outbox row was written for them."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("conversions", "0006_audit_conversion_unchecked")]

    operations = [
        migrations.AddField(
            model_name="statuschange",
            name="callback_owed",
            field=models.BooleanField(default=False),
        ),
        migrations.RunSQL(
            """UPDATE conversions_statuschange sc SET callback_owed = true
            FROM callbacks_callbackdelivery d WHERE d.status_change_id = sc.id""",
            migrations.RunSQL.noop,
        ),
    ]
