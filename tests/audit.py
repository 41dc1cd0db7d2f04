"""The check every test that changes statuses ends with: the audit trail is unbroken."""

from io import StringIO

from django.core.management import CommandError, call_command


def assert_audit_intact() -> None:
    """Run ``manage.py audit_verify``; fail with the problems it lists when the trail is
    broken."""
    out = StringIO()
    try:
        call_command("audit_verify", stdout=out)
    except CommandError as error:
        raise AssertionError(f"{error}\n{out.getvalue()}") from None
