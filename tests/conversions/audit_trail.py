"""The check some status-changing tests end with by name: the audit trail is unbroken, as
``manage.py audit_verify`` proves it (one implementation of the rule, the command's)."""

from tests.audit import assert_audit_intact


def audit_trail_assert_unbroken() -> None:
    """Each conversion's audit rows are numbered 1..n, chain by status and by hash, and end in
    the conversion's status (``conversions.audit.audit_verify``)."""
    assert_audit_intact()
