"""In a real browser: a large change is uploaded, its money read, approved by a second admin,
applied, then reverted from its job page, and the statuses are back."""

import csv
from decimal import Decimal

import pytest

from conversions.models import Conversion, ImportJob, Status
from tests.audit import assert_audit_intact
from tests.browser import CHROMIUM  # noqa: F401 -- the browser fixtures' executable
from tests.conversions.imports.test_browser_import import celery_worker  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def statuses(conversions):
    return [Conversion.objects.get(pk=c.pk).status for c in conversions]


def log_in(browser, live_server, username):
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    return page


def test_a_large_change_is_approved_by_a_second_admin_then_reverted(
    admin_page,
    browser,
    live_server,
    celery_worker,  # noqa: F811
    conversion_factory,
    offer_event_factory,
    django_user_model,
    settings,
    tmp_path,
):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.IMPORT_APPROVAL_MIN_CONVERSIONS = 3
    # Given three rewarded conversions of a USD offer and a file that rejects them all
    event = offer_event_factory(payout=Decimal("2.50"), revenue=Decimal("4.00"))
    rewarded = [
        conversion_factory(click__offer=event.offer, offer_event=event, status=Status.SUCCESS)
        for _ in range(3)
    ]
    django_user_model.objects.create_superuser("approver", "a@example.com", "password")
    path = tmp_path / "fraud.csv"
    with path.open("w", newline="") as file:
        csv.writer(file).writerows(
            [["EventId", "Status", "Reason"], *[[c.pk, "Rejected", "Fraud"] for c in rewarded]]
        )
    page = admin_page
    page.set_viewport_size({"width": 1440, "height": 1000})

    # When the admin uploads it
    page.goto("/admin/conversions/conversion/import/")
    page.set_input_files("#id_import_file", str(path))
    page.click("input[type=submit][value='Upload and check']")

    # Then the preview shows the money it moves and that a second person must approve it
    page.wait_for_selector("#money-transitions", timeout=30_000)
    assert "Success → Rejected" in page.inner_text("#money-transitions")
    assert "−7.50 USD" in page.inner_text("#money-transitions")
    assert "second person" in page.inner_text("#approval-note")
    assert page.locator("#confirm-form").count() == 0
    page.screenshot(path="/tmp/safe_changes_preview.png", full_page=True)
    job = ImportJob.objects.get(kind=ImportJob.Kind.FILE)

    # When a second admin opens it and confirms
    second = log_in(browser, live_server, "approver")
    second.set_viewport_size({"width": 1440, "height": 1000})
    second.goto(f"/admin/conversions/importjob/{job.pk}/change/")
    second.click("#confirm-button")
    second.wait_for_selector("#job-progress-text:has-text('Done: 100%')", timeout=30_000)
    assert statuses(rewarded) == [Status.REJECTED] * 3
    assert "by approver" in second.inner_text("#job-confirmed")

    # And the first admin reverts it from the job page, and confirms the revert
    page.goto(f"/admin/conversions/importjob/{job.pk}/change/")
    page.click("#revert-button")
    page.wait_for_selector("#money-transitions", timeout=30_000)
    assert "Rejected → Success" in page.inner_text("#money-transitions")
    assert "+7.50 USD" in page.inner_text("#money-transitions")
    revert = ImportJob.objects.get(kind=ImportJob.Kind.REVERT)
    second.goto(f"/admin/conversions/importjob/{revert.pk}/change/")
    second.click("#confirm-button")
    second.wait_for_selector("#job-progress-text:has-text('Done: 100%')", timeout=30_000)

    # Then the statuses are back, and the conversion list says so
    assert statuses(rewarded) == [Status.SUCCESS] * 3
    page.goto("/admin/conversions/conversion/")
    for conversion in rewarded:
        badge = page.locator(f"tr:has(th a:text-is('{conversion.pk}')) .gk-status").inner_text()
        assert badge == "Success"
    page.goto(f"/admin/conversions/importjob/{job.pk}/change/")
    assert f"Revert {revert.pk}" in page.inner_text("#job-reverted-by")
    page.screenshot(path="/tmp/safe_changes_job.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/admin/conversions/importjob/{revert.pk}/change/")
    page.screenshot(path="/tmp/safe_changes_revert_390.png", full_page=True)
    second.context.close()
    assert_audit_intact()
