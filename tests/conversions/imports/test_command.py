"""``manage.py import_statuses``: the same pipeline, its summary printed, its exit codes."""

import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from conversions.models import ImportJob, Status
from tests.conversions.factories import changes_since_recorded
from tests.conversions.imports.status_files import HEADER, status_file

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("import_media_root")]


def run(*args):
    out = StringIO()
    call_command("import_statuses", *map(str, args), stdout=out)
    return out.getvalue()


def test_a_dry_run_prints_the_summary_and_changes_nothing(tmp_path, conversion_factory):
    conversion = conversion_factory()
    path = status_file(
        tmp_path, [HEADER, ["", conversion.pk, "Success", ""], ["", 999_999_999, "Success", ""]]
    )

    output = run(path, "--dry-run")

    assert "Rows read: 2" in output
    assert "Will change: 1\n  pending → success: 1" in output
    assert "Unchanged (already in that status): 0" in output
    assert "Not found: 1" in output
    assert "Invalid: 0" in output
    assert "Conflicting: 0" in output
    assert "row 3: No conversion has EventId 999999999." in output
    assert "Dry run: nothing was changed" in output
    conversion.refresh_from_db()
    assert conversion.status == Status.PENDING


def test_it_applies_as_the_named_user(tmp_path, conversion_factory, admin_user):
    conversion = conversion_factory()
    path = status_file(tmp_path, [HEADER, ["", conversion.pk, "Rejected", "chargeback"]], "xlsx")

    output = run(path, "--user", "admin")

    assert "Applied: 1 conversions changed, pending → rejected: 1" in output
    change = changes_since_recorded().get(conversion=conversion)
    assert (change.new_status, change.user, change.reason) == (
        Status.REJECTED,
        admin_user,
        "chargeback",
    )
    assert ImportJob.objects.get().state == ImportJob.State.APPLIED


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([["Click", "Reason"], ["a", "b"]], "The header row has no Status"),
        ([HEADER], "The file has a header row but no data rows."),
        ([HEADER, ["", 999_999_999, "Success", ""]], "None of the 1 rows can be applied"),
    ],
)
def test_an_unusable_file_is_an_error(tmp_path, rows, message):
    with pytest.raises(CommandError, match=message):
        run(status_file(tmp_path, rows))


def test_a_refused_upload_and_an_unknown_user_are_errors(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(CommandError, match="The file is empty"):
        run(empty)
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        run(status_file(tmp_path, [HEADER]), "--user", "nobody")


def test_the_exit_status_is_non_zero_for_an_unusable_file(tmp_path):
    """The real command line, as scripts run it (no database needed to refuse this file)."""
    path = tmp_path / "statuses.xlsx"
    path.write_bytes(b"gk_click_id,Status\nabc,Success\n")
    manage = Path(__file__).resolve().parents[3] / "manage.py"

    done = subprocess.run(
        [sys.executable, str(manage), "import_statuses", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 1
    assert "This .xlsx file is really text (CSV)" in done.stderr
