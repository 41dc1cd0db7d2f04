"""Vacuum and analyze the outbox after 2 % of it changed rather than PostgreSQL's 10-20 %.

Every delivery is updated at least twice (claim, outcome), and the claim's plan relies on fresh
statistics and few dead index entries at the front of the due index.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("callbacks", "0003_delivery_retry_window_url_schemes")]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE callbacks_callbackdelivery SET ("
            " autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02)",
            "ALTER TABLE callbacks_callbackdelivery RESET ("
            " autovacuum_vacuum_scale_factor, autovacuum_analyze_scale_factor)",
        )
    ]
