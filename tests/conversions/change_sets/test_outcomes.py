"""A change set's per-row outcomes are kept with its job: before the apply from its staged change
set, after it from the change set the apply keeps (and, should that be lost, from the audit
rows), the rejected rows from the job's report; for every source."""

import pytest
from django.db import connection

from conversions.change_sets import services as change_sets
from conversions.change_sets.outcomes import (
    change_set_outcomes_all,
    change_set_outcomes_page,
    outcomes_table,
)
from conversions.change_sets.selection import selection_status_set
from conversions.models import Status
from tests.conversions.imports.status_files import HEADER, status_file

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("import_media_root")]


def outcomes(job):
    return [
        (item.outcome, item.row or item.conversion_id, item.old_status, item.new_status)
        for item in change_set_outcomes_all(job, batch=2)
    ]


def test_a_files_outcomes_before_and_after_the_apply(
    import_validated, admin_user, conversion_factory, tmp_path
):
    changed, left_alone = conversion_factory.create_batch(2)
    unchanged = conversion_factory(status=Status.REJECTED)
    path = status_file(
        tmp_path,
        [
            HEADER,
            ["", changed.pk, "Success", "paid"],
            ["", 99999999, "Success", ""],
            ["", unchanged.pk, "Rejected", ""],
            ["", left_alone.pk, "Success", ""],
        ],
    )
    job = import_validated(path)

    assert outcomes(job) == [
        ("rejected", 3, "", "Success"),
        ("will_change", changed.pk, "pending", "success"),
        ("will_change", left_alone.pk, "pending", "success"),
        ("unchanged", unchanged.pk, "rejected", "rejected"),
    ]

    # Someone changes one conversion between the check and the apply
    selection_status_set(
        conversion_ids=[left_alone.pk], status=Status.REJECTED, user=admin_user, single=True
    )
    change_sets.import_job_confirm(
        import_job=job, user=admin_user, send_callbacks=True, queue_apply=False
    )
    job = change_sets.import_job_apply(import_job=job)

    assert job.state == "applied"
    assert outcomes(job) == [
        ("rejected", 3, "", "Success"),
        ("changed", changed.pk, "pending", "success"),
        ("left_alone", left_alone.pk, "pending", "success"),
        ("unchanged", unchanged.pk, "rejected", "rejected"),
    ]
    page, following = change_set_outcomes_page(import_job=job, after=None, limit=3)
    assert [item.outcome for item in page] == ["rejected", "changed", "left_alone"]
    rest, end = change_set_outcomes_page(import_job=job, after=following, limit=3)
    assert ([item.outcome for item in rest], end) == (["unchanged"], None)
    assert "No conversion has EventId 99999999" in page[0].message


def test_an_emptied_outcomes_table_falls_back_to_the_audit_rows(
    import_validated, admin_user, conversion_factory, tmp_path
):
    one, two = conversion_factory.create_batch(2)
    path = status_file(
        tmp_path, [HEADER, ["", one.pk, "Success", ""], ["", two.pk, "Rejected", ""]]
    )
    job = import_validated(path)
    change_sets.import_job_confirm(
        import_job=job, user=admin_user, send_callbacks=True, queue_apply=False
    )
    job = change_sets.import_job_apply(import_job=job)
    # What a crash does to an unlogged table
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {outcomes_table(job.pk)}")

    assert outcomes(job) == [
        ("changed", one.pk, "pending", "success"),
        ("changed", two.pk, "pending", "rejected"),
    ]


def test_a_selected_rows_action_lists_what_it_changed(admin_user, conversion_factory):
    picked = conversion_factory.create_batch(2)

    outcome = selection_status_set(
        conversion_ids=[c.pk for c in picked], status=Status.SUCCESS, user=admin_user
    )

    assert outcomes(outcome.job) == [
        ("changed", c.pk, "pending", "success") for c in sorted(picked, key=lambda c: c.pk)
    ]
