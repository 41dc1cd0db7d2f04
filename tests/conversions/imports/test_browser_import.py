"""In a real browser: upload a status file, read the preview, confirm, watch it apply.

The validate and apply tasks run in a real Celery worker (solo pool, in a thread) on this run's
Redis database and queue, as in production; nothing runs eagerly.
"""

import csv

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.db import connections

from conversions.models import ImportJob, Status, StatusChange
from gokart.celery import app as celery_app

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def celery_worker(transactional_db):
    """A Celery worker consuming this run's queue until the test ends."""

    def close_worker_connections(**kwargs):
        # The worker thread's connection would otherwise stay open (and hold the test
        # database) after the test.
        connections.close_all()

    task_postrun.connect(close_worker_connections, weak=False)
    try:
        with start_worker(
            celery_app,
            pool="solo",
            concurrency=1,
            perform_ping_check=False,
            loglevel="WARNING",
            shutdown_timeout=30,
        ) as worker:
            yield worker
    finally:
        task_postrun.disconnect(close_worker_connections)


def status_badge(page, conversion):
    return page.locator(f"tr:has(th a:text-is('{conversion.pk}')) .gk-status").inner_text()


def test_upload_preview_confirm_and_watch_the_import_apply(
    admin_page, celery_worker, conversion_factory, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    # Given three Pending conversions, one Success, and a reconciliation file about them
    to_success, to_rejected, untouched = conversion_factory.create_batch(3)
    already = conversion_factory(status=Status.SUCCESS)
    path = tmp_path / "reconciliation.csv"
    with path.open("w", newline="") as file:
        csv.writer(file).writerows(
            [
                ["EventId", "gk_click_id", "Status", "Reason"],
                [to_success.pk, to_success.click.gk_click_id, "Success", "Reconciled"],
                [to_rejected.pk, "", "rejected", "Chargeback"],
                [already.pk, "", "Success", ""],
                [987654321, "", "Success", ""],
                [untouched.pk, "", "Aproved", ""],
            ]
        )
    page = admin_page
    page.set_viewport_size({"width": 1280, "height": 1100})

    # When the admin uploads it from Conversion Management's Import button
    page.goto("/admin/conversions/conversion/")
    page.click("a.import_link")
    page.set_input_files("#id_import_file", str(path))
    page.click("input[type=submit][value='Upload and check']")

    # Then the job page shows the preview once the worker has checked the file
    page.wait_for_selector("#summary-rows", timeout=30_000)
    assert page.inner_text("#summary-rows") == "5"
    assert page.inner_text("#summary-will-change") == "2"
    assert page.inner_text("#summary-unchanged") == "1"
    assert page.inner_text("#summary-not-found") == "1"
    assert page.inner_text("#summary-invalid") == "1"
    errors = page.inner_text("#job-errors")
    assert "6" in errors and "Aproved" in errors
    page.screenshot(path="/tmp/impadmin_browser_preview.png", full_page=True)

    # When the admin confirms
    page.click("#confirm-button")

    # Then the progress bar reaches done and the outcome is shown
    page.wait_for_selector("#job-progress-text:has-text('Done: 100%')", timeout=30_000)
    assert page.inner_text("#job-state") == "Applied"
    assert page.inner_text("#applied-total") == "2"
    assert page.locator(".gk-progress-bar").evaluate("bar => bar.style.width") == "100%"
    page.screenshot(path="/tmp/impadmin_browser_job.png", full_page=True)
    job = ImportJob.objects.get()
    assert StatusChange.objects.filter(import_job=job).count() == 2

    # And the conversion list shows the new statuses
    page.goto("/admin/conversions/conversion/")
    assert status_badge(page, to_success) == "Success"
    assert status_badge(page, to_rejected) == "Rejected"
    assert status_badge(page, untouched) == "Pending"
    assert status_badge(page, already) == "Success"
