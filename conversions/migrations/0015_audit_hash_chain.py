"""The audit trail proves itself (``conversions.audit``):

- ``conversions_statuschange.chain_hash``: each audit row's SHA-256 over its own fields and the
  previous row's hash of its conversion (``conversions_status_change_hash``, the one
  definition every writer, the backfill and ``audit_verify`` call);
- ``conversions_conversion.audit_chain_hash``: the hash of the conversion's last audit row,
  which its next change extends (read from the row that change locks and rewrites anyway);
- triggers: the audit table refuses every UPDATE and DELETE, and conversions refuse DELETE.
  A migration that must rewrite history disables the trigger inside itself (0016 does).

The two columns are the database's, not the models': only the SQL of ``conversions.audit``
writes or reads them, and a row written behind it (an ORM ``create``) gets an empty hash that
``audit_verify`` names. TRUNCATE is not refused: the test runner empties tables with it.
"""

from django.db import migrations

HASH_FUNCTION_SQL = """
    -- The canonical encoding (version 1): the fields in a fixed order, joined by '|' (ids
    -- empty when NULL, booleans t or f, the time as seconds since the epoch to the microsecond
    -- whatever the session's time zone, the reason last with its length before it), then the
    -- previous row's hash as bytes (none for a conversion's first status). One concat_ws and
    -- one sha256 per row, inlined into the statement that calls it.
    CREATE FUNCTION conversions_status_change_hash(
        conversion_id bigint, sequence_number bigint, old_status text, new_status text,
        source text, user_id bigint, import_job_id bigint, callbacks_suppressed boolean,
        callback_owed boolean, created_at timestamptz, reason text, previous_hash bytea
    ) RETURNS bytea
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
        SELECT sha256(convert_to(concat_ws('|',
            'status_change.v1', conversion_id, sequence_number, old_status, new_status, source,
            coalesce(user_id::text, ''), coalesce(import_job_id::text, ''),
            callbacks_suppressed, callback_owed, extract(epoch FROM created_at),
            length(reason), reason), 'UTF8') || coalesce(previous_hash, ''::bytea))
    $$;
"""

TRIGGERS_SQL = """
    CREATE FUNCTION conversions_statuschange_refuse_rewrite() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'The audit trail is append-only: % on conversions_statuschange refused.',
            TG_OP
            USING ERRCODE = 'restrict_violation',
                  HINT = 'A migration that must rewrite history disables the trigger '
                         'statuschange_append_only inside itself.';
    END
    $$;
    CREATE TRIGGER statuschange_append_only
        BEFORE UPDATE OR DELETE ON conversions_statuschange
        FOR EACH STATEMENT EXECUTE FUNCTION conversions_statuschange_refuse_rewrite();

    CREATE FUNCTION conversions_conversion_refuse_delete() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'Conversions are never deleted: their audit trail would go with them.'
            USING ERRCODE = 'restrict_violation';
    END
    $$;
    CREATE TRIGGER conversion_never_deleted
        BEFORE DELETE ON conversions_conversion
        FOR EACH STATEMENT EXECUTE FUNCTION conversions_conversion_refuse_delete();
"""

REVERSE_SQL = """
    DROP TRIGGER conversion_never_deleted ON conversions_conversion;
    DROP FUNCTION conversions_conversion_refuse_delete();
    DROP TRIGGER statuschange_append_only ON conversions_statuschange;
    DROP FUNCTION conversions_statuschange_refuse_rewrite();
    DROP FUNCTION conversions_status_change_hash(bigint, bigint, text, text, text, bigint,
        bigint, boolean, boolean, timestamptz, text, bytea);
    ALTER TABLE conversions_conversion DROP COLUMN audit_chain_hash;
    ALTER TABLE conversions_statuschange DROP COLUMN chain_hash;
"""


class Migration(migrations.Migration):
    dependencies = [("conversions", "0014_change_set_approval")]

    operations = [
        migrations.RunSQL(
            [
                # Constant defaults: no table rewrite here (the backfill, 0016, fills them).
                "ALTER TABLE conversions_statuschange"
                " ADD COLUMN chain_hash bytea NOT NULL DEFAULT ''",
                "ALTER TABLE conversions_conversion"
                " ADD COLUMN audit_chain_hash bytea NOT NULL DEFAULT ''",
                HASH_FUNCTION_SQL,
                TRIGGERS_SQL,
            ],
            REVERSE_SQL,
        ),
    ]
