"""Fill the conversion tally from the conversions already recorded: one set-based statement,
one row per (hour, offer, partner, status). From here on the status service keeps it exact.
(A frozen copy of ``conversions.tally.REBUILD_SQL``: a migration must not change with the code.)

Run it while nothing else changes statuses (a deploy's migrate step); a change made while it
runs could be counted twice or not at all.
"""

from django.db import migrations

BACKFILL_SQL = """
    INSERT INTO conversions_conversiontally (hour, offer_id, partner_id, status, conversions,
        payout, revenue)
    SELECT date_trunc('hour', created_at, 'UTC'), offer_id, partner_id, status, count(*),
           sum(payout), sum(revenue)
    FROM conversions_conversion
    GROUP BY 1, 2, 3, 4
"""


class Migration(migrations.Migration):
    dependencies = [("conversions", "0010_click_sub_id_status_changed_indexes")]

    operations = [
        migrations.RunSQL(BACKFILL_SQL, "DELETE FROM conversions_conversiontally"),
    ]
