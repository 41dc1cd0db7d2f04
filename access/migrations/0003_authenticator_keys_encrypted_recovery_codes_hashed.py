"""django-otp's secrets at rest: TOTP keys encrypted, recovery codes hashed (gokart.encryption,
access.apps). The columns are django-otp's, so only the database changes here: the key column
becomes text (a Fernet token is longer than a key) and the code column holds 64 hex digits.
Set FIELD_ENCRYPTION_KEYS before migrating in production. Irreversible: a hashed code gives no
code back.
"""

from django.db import migrations

import gokart.encryption


def secrets_protect(apps, schema_editor) -> None:
    # Raw SQL: the values are converted here, whatever the fields do at run time.
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT id, key FROM otp_totp_totpdevice")
        for row_id, key in cursor.fetchall():
            if key and not gokart.encryption.is_encrypted(key):
                cursor.execute(
                    "UPDATE otp_totp_totpdevice SET key = %s WHERE id = %s",
                    [gokart.encryption.value_encrypt(key), row_id],
                )
        cursor.execute("SELECT id, token FROM otp_static_statictoken")
        for row_id, code in cursor.fetchall():
            if len(code) <= 16:  # a code (django-otp's column held 16 at most), not a digest
                cursor.execute(
                    "UPDATE otp_static_statictoken SET token = %s WHERE id = %s",
                    [gokart.encryption.recovery_code_digest(code), row_id],
                )


class Migration(migrations.Migration):
    dependencies = [
        ("access", "0002_sign_in_event_password_passed"),
        ("otp_totp", "0003_add_timestamps"),
        ("otp_static", "0003_add_timestamps"),
    ]

    operations = [
        migrations.RunSQL(
            [
                "ALTER TABLE otp_totp_totpdevice ALTER COLUMN key TYPE text",
                "ALTER TABLE otp_static_statictoken ALTER COLUMN token TYPE varchar(64)",
            ]
        ),
        migrations.RunPython(secrets_protect),
    ]
