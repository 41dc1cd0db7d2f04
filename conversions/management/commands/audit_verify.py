"""``python manage.py audit_verify [--limit N]``: prove the audit trail is unbroken.

Exits 0 when every conversion's audit rows form an unbroken chain ending in its status, each row
matches its hash (so a row rewritten since it was written, even with its status rewritten to
match, is named by conversion and number), and every change that owed a callback has its outbox
row; otherwise prints the first problems and exits 1 (``conversions.audit``).
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from conversions.audit import audit_verify


class Command(BaseCommand):
    help = (
        "Check that every conversion's audit rows form an unbroken hash chain ending in its"
        " status, with their callbacks."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, default=50, help="Problems to list at most.")

    def handle(self, *args: Any, limit: int, **options: Any) -> None:
        started = time.monotonic()
        problems = audit_verify(limit=max(1, limit))
        seconds = time.monotonic() - started
        if not problems:
            self.stdout.write(f"Audit trail intact ({seconds:.1f} s).")
            return
        for problem in problems:
            self.stdout.write(f"conversion {problem.conversion_id}: {problem.message}")
        raise CommandError(
            f"The audit trail has problems: the first {len(problems)} are listed above."
        )
