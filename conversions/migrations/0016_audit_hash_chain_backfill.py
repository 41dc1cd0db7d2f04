"""Hash the audit rows written before the chain existed, and keep each conversion's last hash.

Set-based, one statement per step of the chains: every conversion's first row, then every
second row from its first, and so on (as many statements as the longest trail has rows; each
reads the previous step's hashes through the (conversion, sequence_number) index). Rows of a
trail already broken (a number missing) stay unhashed, and ``audit_verify`` names them.

It rewrites history, so it disables the append-only trigger inside itself, for its own
transaction only (ALTER TABLE holds the table's lock until the commit). Run it while nothing
else changes statuses (a deploy's migrate step): it rewrites every audit row and conversion
once (minutes at tens of millions of rows).
"""

from django.db import migrations

BACKFILL_SQL = """
    ALTER TABLE conversions_statuschange DISABLE TRIGGER statuschange_append_only;

    DO $$
    DECLARE
        step bigint := 1;
        hashed bigint;
    BEGIN
        UPDATE conversions_statuschange sc
        SET chain_hash = conversions_status_change_hash(
            conversion_id => sc.conversion_id, sequence_number => sc.sequence_number,
            old_status => sc.old_status, new_status => sc.new_status, source => sc.source,
            user_id => sc.user_id, import_job_id => sc.import_job_id,
            callbacks_suppressed => sc.callbacks_suppressed,
            callback_owed => sc.callback_owed, created_at => sc.created_at,
            reason => sc.reason, previous_hash => NULL)
        WHERE sc.sequence_number = 1;
        GET DIAGNOSTICS hashed = ROW_COUNT;
        WHILE hashed > 0 LOOP
            step := step + 1;
            UPDATE conversions_statuschange sc
            SET chain_hash = conversions_status_change_hash(
                conversion_id => sc.conversion_id, sequence_number => sc.sequence_number,
                old_status => sc.old_status, new_status => sc.new_status, source => sc.source,
                user_id => sc.user_id, import_job_id => sc.import_job_id,
                callbacks_suppressed => sc.callbacks_suppressed,
                callback_owed => sc.callback_owed, created_at => sc.created_at,
                reason => sc.reason, previous_hash => previous.chain_hash)
            FROM conversions_statuschange previous
            WHERE sc.sequence_number = step
              AND previous.conversion_id = sc.conversion_id
              AND previous.sequence_number = step - 1
              AND previous.chain_hash <> '';
            GET DIAGNOSTICS hashed = ROW_COUNT;
        END LOOP;
    END
    $$;

    UPDATE conversions_conversion c SET audit_chain_hash = sc.chain_hash
    FROM conversions_statuschange sc
    WHERE sc.conversion_id = c.id AND sc.sequence_number = c.status_version;

    ALTER TABLE conversions_statuschange ENABLE TRIGGER statuschange_append_only;
"""


class Migration(migrations.Migration):
    dependencies = [("conversions", "0015_audit_hash_chain")]

    operations = [migrations.RunSQL(BACKFILL_SQL, migrations.RunSQL.noop)]
