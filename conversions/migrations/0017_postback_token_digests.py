"""Offers' postback tokens, current and replaced, kept as digests (gokart.encryption): each
token in clear becomes ``ab…yz$<sha256>``. Irreversible: a digest gives no token back (rotate
the offers' tokens instead of migrating back).
"""

from django.db import migrations

import conversions.models
import gokart.encryption

_COLUMNS = [
    ("conversions_offer", "postback_secret"),
    ("conversions_replacedpostbacktoken", "token"),
]


def tokens_hash(apps, schema_editor) -> None:
    # Raw SQL: the historical models' fields would take a stored value for a token.
    with schema_editor.connection.cursor() as cursor:
        for table, column in _COLUMNS:
            cursor.execute(f"SELECT id, {column} FROM {table}")  # noqa: S608 -- constant names
            for row_id, value in cursor.fetchall():
                if "$" not in value:  # URL-safe tokens have none; a digest always one
                    cursor.execute(
                        f"UPDATE {table} SET {column} = %s WHERE id = %s",  # noqa: S608
                        [gokart.encryption.token_digest(value), row_id],
                    )


class Migration(migrations.Migration):
    dependencies = [
        ("conversions", "0016_audit_hash_chain_backfill"),
    ]

    operations = [
        migrations.AlterField(
            model_name="offer",
            name="postback_secret",
            field=gokart.encryption.TokenDigestField(
                default=conversions.models.postback_secret_generate, max_length=80
            ),
        ),
        migrations.AlterField(
            model_name="replacedpostbacktoken",
            name="token",
            field=gokart.encryption.TokenDigestField(max_length=80),
        ),
        migrations.RunPython(tokens_hash),
    ]
