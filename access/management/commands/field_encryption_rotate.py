"""``manage.py field_encryption_rotate``: encrypt every secret at rest again under the first key
of FIELD_ENCRYPTION_KEYS (partners' signing secrets, authenticator keys), so that the keys after
it can be dropped. Safe to run again; see ``gokart.encryption``."""

from typing import Any

from django.core.management.base import BaseCommand

from gokart.encryption import encrypted_columns, field_encryption_rotate


class Command(BaseCommand):
    help = "Encrypt every secret at rest again under the first key of FIELD_ENCRYPTION_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        rewritten = field_encryption_rotate()
        columns = ", ".join(f"{table}.{column}" for table, _, column in encrypted_columns())
        self.stdout.write(f"{rewritten} values encrypted again under the first key ({columns}).")
