"""Partners' signing secrets, current and replaced, encrypted at rest (gokart.encryption).

The columns become text (a Fernet token is longer than the secret) and every value still in
clear is encrypted under the first of FIELD_ENCRYPTION_KEYS: set it before migrating in
production. Reversible: the way back decrypts.
"""

from django.db import migrations

import callbacks.models
import gokart.encryption

_COLUMNS = [("callbacks_partner", "signing_secret"), ("callbacks_partnersigningsecret", "secret")]


def _convert(schema_editor, convert, wanted) -> None:
    # Raw SQL: the historical models' fields would encrypt and decrypt on their own.
    with schema_editor.connection.cursor() as cursor:
        for table, column in _COLUMNS:
            cursor.execute(f"SELECT id, {column} FROM {table}")  # noqa: S608 -- constant names
            for row_id, value in cursor.fetchall():
                if value and gokart.encryption.is_encrypted(value) != wanted:
                    cursor.execute(
                        f"UPDATE {table} SET {column} = %s WHERE id = %s",  # noqa: S608
                        [convert(value), row_id],
                    )


def secrets_encrypt(apps, schema_editor) -> None:
    _convert(schema_editor, gokart.encryption.value_encrypt, wanted=True)


def secrets_decrypt(apps, schema_editor) -> None:
    _convert(schema_editor, gokart.encryption.value_decrypt, wanted=False)


class Migration(migrations.Migration):
    dependencies = [
        ("callbacks", "0009_delivery_failed_conversion"),
    ]

    operations = [
        migrations.AlterField(
            model_name="partner",
            name="signing_secret",
            field=gokart.encryption.EncryptedTextField(
                default=callbacks.models.signing_secret_generate
            ),
        ),
        migrations.AlterField(
            model_name="partnersigningsecret",
            name="secret",
            field=gokart.encryption.EncryptedTextField(),
        ),
        migrations.RunPython(secrets_encrypt, secrets_decrypt),
    ]
