"""The audit trail in tests: the check every test that changes statuses ends with, and the first
audit row of a conversion that a factory made behind the postback."""

from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO

from django.core.management import CommandError, call_command
from django.db import connection

from conversions.models import Conversion


def assert_audit_intact() -> None:
    """Run ``manage.py audit_verify``; fail with the problems it lists when the trail is
    broken."""
    out = StringIO()
    try:
        call_command("audit_verify", stdout=out)
    except CommandError as error:
        raise AssertionError(f"{error}\n{out.getvalue()}") from None


# The row a postback writes with a conversion (``conversions.tracking``), for a conversion
# already inserted: its status as the first change, no callback owed, the first link of its
# hash chain (the database's own ``conversions_status_change_hash``), kept on the conversion.
_FIRST_ROW_SQL = """
    WITH first_change AS (
        SELECT c.id, c.status, c.status_source, c.status_reason, c.status_version, c.created_at,
               conversions_status_change_hash(
                   conversion_id => c.id, sequence_number => c.status_version,
                   old_status => '', new_status => c.status, source => c.status_source,
                   user_id => NULL, import_job_id => NULL, callbacks_suppressed => false,
                   callback_owed => false, created_at => c.created_at, reason => c.status_reason,
                   previous_hash => NULL, payout => c.payout,
                   revenue => c.revenue) AS chain_hash, c.payout, c.revenue
        FROM conversions_conversion c WHERE c.id = %s
    ),
    kept AS (
        UPDATE conversions_conversion c SET audit_chain_hash = f.chain_hash
        FROM first_change f WHERE c.id = f.id
    )
    INSERT INTO conversions_statuschange (conversion_id, old_status, new_status, source, reason,
        sequence_number, callbacks_suppressed, callback_owed, created_at, chain_hash, payout,
        revenue)
    SELECT id, '', status, status_source, status_reason, status_version, false, false,
           created_at, chain_hash, payout, revenue
    FROM first_change
"""


def audit_first_row_record(conversion: Conversion) -> None:
    """Write the first audit row of a conversion made by a factory, as its postback would have:
    a trail that ``audit_verify`` accepts."""
    with connection.cursor() as cursor:
        cursor.execute(_FIRST_ROW_SQL, [conversion.pk])


@contextmanager
def audit_triggers_off() -> Iterator[None]:
    """What a superuser can do to tamper with the trail: run with every trigger off, the ones
    that refuse rewriting audit rows and deleting conversions included
    (``session_replication_role``), for the statements inside the block."""
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        try:
            yield
        finally:
            cursor.execute("RESET session_replication_role")
