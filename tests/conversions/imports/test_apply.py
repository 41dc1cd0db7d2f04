"""Applying an import: atomic, audited, re-reading statuses, idempotent, recoverable."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from callbacks.models import CallbackDelivery
from conversions.change_sets import services as change_sets
from conversions.change_sets import tasks
from conversions.change_sets.tables import StagingTables, staging_changes_count
from conversions.imports import services
from conversions.models import Conversion, ImportJob, Source, Status
from conversions.services import conversion_status_set
from tests.conversions.factories import changes_since_recorded
from tests.conversions.imports.status_files import HEADER, status_file

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("import_media_root")]


@pytest.fixture
def three_pending(conversion_factory, partner_factory):
    partner = partner_factory(callback_url="https://partner.example/callback")
    return [conversion_factory(status=Status.PENDING, click__partner=partner) for _ in range(3)]


def rows_for(conversions, status="Success", reason="reconciled"):
    return [HEADER] + [["", c.pk, status, reason] for c in conversions]


def status_of(conversion):
    return Conversion.objects.get(pk=conversion.pk).status


def test_apply_changes_statuses_with_audit_rows_carrying_job_user_and_reason(
    tmp_path, import_applied, three_pending, admin_user
):
    job = import_applied(status_file(tmp_path, rows_for(three_pending, reason="Q3 reconciliation")))

    assert job.state == ImportJob.State.APPLIED
    assert job.summary["applied"] == {"pending->success": 3}
    assert job.summary["applied_total"] == 3
    assert job.summary["changed_since_preview"] == 0
    assert [status_of(c) for c in three_pending] == [Status.SUCCESS] * 3
    audit = changes_since_recorded().filter(conversion__in=three_pending)
    assert {(a.old_status, a.new_status, a.source, a.reason) for a in audit} == {
        (Status.PENDING, Status.SUCCESS, Source.BULK_IMPORT, "Q3 reconciliation")
    }
    assert {a.import_job_id for a in audit} == {job.pk}
    assert {a.user_id for a in audit} == {admin_user.pk}
    # The partner is owed a callback for each change, written with it.
    assert job.summary["callbacks"] == 3
    assert CallbackDelivery.objects.filter(conversion__in=three_pending).count() == 3


def test_without_callbacks_the_audit_says_so_and_no_callback_is_owed(
    tmp_path, import_applied, three_pending
):
    job = import_applied(status_file(tmp_path, rows_for(three_pending)), send_callbacks=False)

    assert job.summary["callbacks"] == 0
    assert not CallbackDelivery.objects.exists()
    assert set(changes_since_recorded().values_list("callbacks_suppressed", flat=True)) == {True}


def test_a_change_made_between_preview_and_apply_is_kept_and_reported(
    tmp_path, import_validated, three_pending, admin_user
):
    job = import_validated(status_file(tmp_path, rows_for(three_pending)))
    assert job.summary["will_change"] == {"pending->success": 3}
    # An admin rejects one of them while the preview is on screen.
    conversion_status_set(
        conversion_ids=[three_pending[0].pk], status=Status.REJECTED, source=Source.ADMIN
    )

    change_sets.import_job_confirm(
        import_job=job, user=admin_user, send_callbacks=True, queue_apply=False
    )
    job = change_sets.import_job_apply(import_job=job)

    assert job.summary["applied"] == {"pending->success": 2}
    assert job.summary["changed_since_preview"] == 1
    assert status_of(three_pending[0]) == Status.REJECTED
    assert changes_since_recorded().filter(conversion=three_pending[0]).count() == 1


def test_applying_twice_changes_nothing_the_second_time(
    tmp_path, import_applied, import_validated, three_pending
):
    path = status_file(tmp_path, rows_for(three_pending))
    first = import_applied(path)

    again = change_sets.import_job_apply(import_job=first)
    assert again.state == ImportJob.State.APPLIED
    second = import_applied(path)

    assert second.summary["will_change"] == {}
    assert second.summary["unchanged"] == 3
    assert second.summary["applied_total"] == 0
    assert changes_since_recorded().count() == 3


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL trigger fails it")
def test_a_failure_mid_apply_changes_nothing_and_the_job_can_be_retried(
    tmp_path, import_validated, three_pending, admin_user, settings
):
    """Given chunks of one conversion, the third chunk fails in the database: the first two,
    already written in the same transaction, are rolled back with it."""
    settings.IMPORT_APPLY_CHUNK_ROWS = 1
    last = max(c.pk for c in three_pending)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""CREATE FUNCTION import_test_fail() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'disk full (test)'; END $$;
            CREATE TRIGGER import_test_fail BEFORE UPDATE ON conversions_conversion
            FOR EACH ROW WHEN (OLD.id = {last}) EXECUTE FUNCTION import_test_fail();"""
        )
    job = import_validated(status_file(tmp_path, rows_for(three_pending)))
    change_sets.import_job_confirm(
        import_job=job, user=admin_user, send_callbacks=True, queue_apply=False
    )

    job = change_sets.import_job_apply(import_job=job)

    assert job.state == ImportJob.State.FAILED
    assert "disk full (test)" in job.error_message
    assert "Nothing was changed" in job.error_message
    assert [status_of(c) for c in three_pending] == [Status.PENDING] * 3
    assert not changes_since_recorded().exists()
    assert not CallbackDelivery.objects.exists()

    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER import_test_fail ON conversions_conversion")
    job = change_sets.import_job_retry(import_job=job)
    assert job.state == ImportJob.State.QUEUED
    job = change_sets.import_job_apply(import_job=job)
    assert job.state == ImportJob.State.APPLIED
    assert [status_of(c) for c in three_pending] == [Status.SUCCESS] * 3


def test_a_job_left_applying_by_a_dead_worker_ends_failed(
    tmp_path, import_validated, three_pending, admin_user
):
    job = import_validated(status_file(tmp_path, rows_for(three_pending)))
    change_sets.import_job_confirm(
        import_job=job, user=admin_user, send_callbacks=True, queue_apply=False
    )
    # The worker set the job applying, then died: its transaction died with it.
    ImportJob.objects.filter(pk=job.pk).update(state=ImportJob.State.APPLYING)

    tasks.import_job_apply_task(job.pk)  # the redelivered task

    job.refresh_from_db()
    assert job.state == ImportJob.State.FAILED
    assert job.error_message.startswith("The worker applying this import stopped")
    assert [status_of(c) for c in three_pending] == [Status.PENDING] * 3
    job = change_sets.import_job_retry(import_job=job)
    tasks.import_job_apply_task(job.pk)
    job.refresh_from_db()
    assert job.state == ImportJob.State.APPLIED


def test_the_periodic_check_fails_stale_applies_and_restarts_stale_validations(
    tmp_path, import_validated, three_pending
):
    applying = import_validated(status_file(tmp_path, rows_for(three_pending)))
    ImportJob.objects.filter(pk=applying.pk).update(state=ImportJob.State.APPLYING)
    validating = services.import_job_create(
        user=None,
        upload=status_file(tmp_path, rows_for(three_pending), name="second.csv"),
        original_name="second.csv",
        queue_validation=False,
    )
    ImportJob.objects.filter(pk=validating.pk).update(state=ImportJob.State.VALIDATING)

    assert tasks.import_jobs_fail_stale_task() == 2

    applying.refresh_from_db()
    validating.refresh_from_db()
    assert applying.state == ImportJob.State.FAILED
    assert validating.state == ImportJob.State.UPLOADED
    tasks.import_job_validate_task(validating.pk)
    validating.refresh_from_db()
    assert validating.state == ImportJob.State.VALIDATED


def test_a_job_left_unconfirmed_for_a_week_drops_its_checked_rows_and_can_be_checked_again(
    tmp_path, import_validated, three_pending, admin_user
):
    forgotten = import_validated(status_file(tmp_path, rows_for(three_pending)))
    recent = import_validated(status_file(tmp_path, rows_for(three_pending), name="recent.csv"))
    ImportJob.objects.filter(pk=forgotten.pk).update(
        validation_finished_at=timezone.now() - timedelta(hours=169)
    )
    tables = StagingTables(forgotten.pk)
    assert staging_changes_count(tables) == 3

    assert tasks.import_jobs_expire_unconfirmed_task() == 1

    forgotten.refresh_from_db()
    recent.refresh_from_db()
    assert forgotten.state == ImportJob.State.FAILED
    assert forgotten.error_message.startswith(
        "This import was not confirmed within 168 hours of its check, so its checked rows were "
        "dropped. Nothing was changed."
    )
    assert staging_changes_count(tables) is None
    assert recent.state == ImportJob.State.VALIDATED
    with pytest.raises(ValidationError, match="this one is failed"):
        change_sets.import_job_confirm(import_job=forgotten, user=admin_user, send_callbacks=True)

    forgotten = change_sets.import_job_retry(import_job=forgotten)
    assert forgotten.state == ImportJob.State.UPLOADED
    tasks.import_job_validate_task(forgotten.pk)
    forgotten.refresh_from_db()
    assert forgotten.state == ImportJob.State.VALIDATED
    assert forgotten.summary["will_change"] == {"pending->success": 3}
    assert [status_of(c) for c in three_pending] == [Status.PENDING] * 3


def test_a_confirmed_job_is_confirmed_once_and_only_a_failed_one_retried(
    tmp_path, import_applied, three_pending, admin_user, django_user_model
):
    job = import_applied(status_file(tmp_path, rows_for(three_pending)))
    confirmed_at = job.confirmed_at
    other = django_user_model.objects.create_user("second", password="x", is_staff=True)

    again = change_sets.import_job_confirm(import_job=job, user=other, send_callbacks=False)

    assert again.state == ImportJob.State.APPLIED
    assert (again.confirmed_by, again.confirmed_at, again.send_callbacks) == (
        admin_user,
        confirmed_at,
        True,
    )
    with pytest.raises(ValidationError, match="Only a failed import can be retried"):
        change_sets.import_job_retry(import_job=job)


def test_a_fan_out_applies_to_every_event_of_the_click(
    tmp_path, import_applied, offer_event_factory, click_factory, conversion_factory
):
    install = offer_event_factory(code="install")
    purchase = offer_event_factory(code="purchase", offer=install.offer)
    click = click_factory(offer=install.offer)
    events = [conversion_factory(click=click, offer_event=e) for e in (install, purchase)]
    bystander = conversion_factory()

    job = import_applied(
        status_file(tmp_path, [HEADER, [click.gk_click_id, "", "Rejected", "fraud"]])
    )

    assert job.summary["fan_out"][0]["conversions"] == 2
    assert job.summary["applied"] == {"pending->rejected": 2}
    assert [status_of(c) for c in events] == [Status.REJECTED] * 2
    assert status_of(bystander) == Status.PENDING
