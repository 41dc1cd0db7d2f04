"""Audit rows record the amounts (``conversions.audit``): each status change's row carries the
conversion's payout and revenue as the change left it, and its hash covers them.

The hash function gains two arguments, ``payout`` and ``revenue`` (NULL by default). A row
without amounts (every row written before this migration) is hashed exactly as before (the
version 1 encoding), so the existing chains stay valid without a rewrite; a row with amounts
uses the version 2 encoding, which adds them, rounded to the column's four decimals, before the
reason. New columns without a default: no table rewrite.

Change sets gain ``new_payout`` and ``new_revenue`` (``conversions.change_sets.tables``): the
change sets of jobs waiting to be applied, and the outcomes kept of applied ones, get them
empty (no amounts change), so that they read as every new one.
"""

from importlib import import_module

from django.db import migrations, models

HASH_FUNCTION_V2_SQL = """
    DROP FUNCTION conversions_status_change_hash(bigint, bigint, text, text, text, bigint,
        bigint, boolean, boolean, timestamptz, text, bytea);
    CREATE FUNCTION conversions_status_change_hash(
        conversion_id bigint, sequence_number bigint, old_status text, new_status text,
        source text, user_id bigint, import_job_id bigint, callbacks_suppressed boolean,
        callback_owed boolean, created_at timestamptz, reason text, previous_hash bytea,
        payout numeric DEFAULT NULL, revenue numeric DEFAULT NULL
    ) RETURNS bytea
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
        SELECT sha256(convert_to(CASE WHEN payout IS NULL AND revenue IS NULL
            THEN concat_ws('|',
                'status_change.v1', conversion_id, sequence_number, old_status, new_status,
                source, coalesce(user_id::text, ''), coalesce(import_job_id::text, ''),
                callbacks_suppressed, callback_owed, extract(epoch FROM created_at),
                length(reason), reason)
            ELSE concat_ws('|',
                'status_change.v2', conversion_id, sequence_number, old_status, new_status,
                source, coalesce(user_id::text, ''), coalesce(import_job_id::text, ''),
                callbacks_suppressed, callback_owed, extract(epoch FROM created_at),
                coalesce(round(payout, 4)::text, ''), coalesce(round(revenue, 4)::text, ''),
                length(reason), reason)
            END, 'UTF8') || coalesce(previous_hash, ''::bytea))
    $$;
"""

# Back to migration 0015's function.
HASH_FUNCTION_V1_SQL = (
    "DROP FUNCTION conversions_status_change_hash(bigint, bigint, text, text, text, bigint,"
    " bigint, boolean, boolean, timestamptz, text, bytea, numeric, numeric);"
    + import_module("conversions.migrations.0015_audit_hash_chain").HASH_FUNCTION_SQL
)


JOB_TABLES_SQL = """
    DO $$
    DECLARE name text;
    BEGIN
        FOR name IN
            SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relkind = 'r'
              AND c.relname ~ '^import_job_[0-9]+_(changes|outcomes)$'
        LOOP
            EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS new_payout numeric(12, 4),'
                           ' ADD COLUMN IF NOT EXISTS new_revenue numeric(12, 4)', name);
        END LOOP;
    END
    $$;
"""


class Migration(migrations.Migration):
    dependencies = [("conversions", "0026_conversion_upload")]

    operations = [
        migrations.AddField(
            model_name="statuschange",
            name="payout",
            field=models.DecimalField(blank=True, decimal_places=4, max_digits=12, null=True),
        ),
        migrations.AddField(
            model_name="statuschange",
            name="revenue",
            field=models.DecimalField(blank=True, decimal_places=4, max_digits=12, null=True),
        ),
        migrations.RunSQL(HASH_FUNCTION_V2_SQL, HASH_FUNCTION_V1_SQL),
        migrations.RunSQL(JOB_TABLES_SQL, migrations.RunSQL.noop),
    ]
