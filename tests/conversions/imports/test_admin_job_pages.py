"""The import job list and page: preview, confirmation, outcome, retry, permissions."""

import pytest
from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile
from django.urls import reverse

from conversions.models import ImportJob

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def viewer_client(client, django_user_model):
    """A staff user who may see conversions but not change their statuses."""
    user = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_conversion"))
    client.force_login(user)
    return client


def import_job(user, **fields):
    values = {
        "user": user,
        "original_name": "reversals.csv",
        "file_format": "csv",
        "size_bytes": 2048,
        "state": ImportJob.State.VALIDATED,
        "summary": {
            "rows": 1250,
            "will_change": {"pending->success": 1000, "success->rejected": 40},
            "unchanged": 180,
            "not_found": 12,
            "invalid": 3,
            "conflicting": 2,
            "fan_out": [
                {"offer": "Dragon Quest", "offer_id": 7, "click_rows": 20, "conversions": 64}
            ],
            "errors": [
                {
                    "row": 4,
                    "message": "Unknown status 'Aproved': use Pending, Success or Rejected.",
                },
                {"row": 9, "message": "EventId 123 belongs to another click."},
            ],
        },
        **fields,
    }
    job = ImportJob(**values)
    job.file.save("reversals.csv", ContentFile(b"EventId,Status\n1,Success\n"), save=False)
    job.save()
    return job


def job_url(job, name="change"):
    return reverse(f"admin:conversions_importjob_{name}", args=[job.pk])


def test_a_validated_job_shows_its_preview_and_the_confirm_form(admin_client, admin_user):
    # Given a job whose file has been checked
    job = import_job(admin_user)
    job.error_report.save("rejected.csv", ContentFile(b"row,reason\n4,Unknown status\n"))

    # When the admin opens its page
    page = admin_client.get(job_url(job)).content.decode()

    # Then the preview's counts, problems and fan-out are there, and it can be confirmed
    assert 'id="summary-rows">1,250<' in page
    assert 'id="summary-will-change">1,040<' in page
    assert "Pending → Success" in page and "Success → Rejected" in page
    assert 'id="summary-unchanged">180<' in page
    assert 'id="summary-not-found">12<' in page
    assert 'id="summary-invalid">3<' in page
    assert 'id="summary-conflicting">2<' in page
    assert "Unknown status &#x27;Aproved&#x27;" in page
    assert '<td class="num">9</td>' in page
    assert "Click-only rows change every event of their click" in page
    assert "Dragon Quest" in page
    assert job_url(job, "report") in page
    assert "Send no partner callbacks for this import" in page
    assert job_url(job, "confirm") in page


def test_a_job_being_validated_shows_a_progress_bar_that_polls(admin_client, admin_user):
    job = import_job(
        admin_user,
        state=ImportJob.State.VALIDATING,
        summary={},
        progress_done=250,
        progress_total=1000,
    )

    page = admin_client.get(job_url(job)).content.decode()

    assert 'data-running="1"' in page
    assert job_url(job, "status") in page
    assert 'data-percent="25"' in page  # the bar's width, set by its script (CSP)
    assert "Checking the file: 25%" in page
    assert 'id="confirm-form"' not in page


def test_the_status_endpoint_reports_state_and_progress(admin_client, admin_user):
    job = import_job(
        admin_user, state=ImportJob.State.APPLYING, progress_done=300, progress_total=1200
    )

    status = admin_client.get(job_url(job, "status")).json()

    assert status == {
        "id": job.pk,
        "state": "applying",
        "state_label": "Applying",
        "running": True,
        "progress_done": 300,
        "progress_total": 1200,
        "percent": 25,
        "progress_text": "Applying: 300 of 1,200 conversions (25%)",
        "error_message": "",
    }


def test_an_applied_job_shows_its_outcome(admin_client, admin_user):
    job = import_job(admin_user, state=ImportJob.State.APPLIED, send_callbacks=False)
    job.summary |= {
        "applied": {"pending->success": 998, "success->rejected": 40},
        "changed_since_preview": 2,
    }
    job.save()

    page = admin_client.get(job_url(job)).content.decode()

    assert 'id="applied-total">1,038<' in page
    assert 'id="changed-since-preview">2<' in page
    assert "2 conversions changed status between the preview and the apply" in page
    assert "<strong>not sent</strong> for this import" in page
    assert "Done: 100%" in page
    assert 'id="confirm-form"' not in page


def test_a_failed_job_shows_its_error_and_a_retry_button(admin_client, admin_user):
    job = import_job(
        admin_user,
        state=ImportJob.State.FAILED,
        error_message="The worker stopped while applying; nothing was applied.",
    )

    page = admin_client.get(job_url(job)).content.decode()

    assert "This import failed" in page
    assert "The worker stopped while applying; nothing was applied." in page
    assert job_url(job, "retry") in page
    assert "Traceback" not in page


def test_retrying_a_failed_job_queues_it_again(
    admin_client, admin_user, django_capture_on_commit_callbacks
):
    # Given a job whose check failed
    job = import_job(
        admin_user, state=ImportJob.State.FAILED, summary={}, error_message="Worker lost."
    )

    # When the admin presses Retry
    with django_capture_on_commit_callbacks() as queued:
        response = admin_client.post(job_url(job, "retry"), follow=True)

    # Then it is queued for a worker again, and the page says so
    job.refresh_from_db()
    assert job.state == ImportJob.State.UPLOADED
    assert job.error_message == ""
    assert queued
    page = response.content.decode()
    assert "Import queued again." in page
    assert 'data-running="1"' in page


def test_retrying_a_job_that_did_not_fail_explains_why_not(admin_client, admin_user):
    job = import_job(admin_user, state=ImportJob.State.APPLIED)

    response = admin_client.post(job_url(job, "retry"), follow=True)

    assert "Only a failed import can be retried; this one is applied." in (
        response.content.decode()
    )
    job.refresh_from_db()
    assert job.state == ImportJob.State.APPLIED


def test_an_unusable_file_says_why_and_offers_a_new_upload(admin_client, admin_user):
    job = import_job(
        admin_user,
        state=ImportJob.State.INVALID,
        summary={},
        error_message="The file has no Status column.",
    )

    page = admin_client.get(job_url(job)).content.decode()

    assert "This file cannot be imported" in page
    assert "The file has no Status column." in page
    assert reverse("admin:conversions_conversion_import") in page
    assert 'id="confirm-form"' not in page


def test_the_rejected_row_report_downloads_as_csv(admin_client, admin_user):
    job = import_job(admin_user)
    job.error_report.save("rejected.csv", ContentFile(b"row,EventId,reason\n4,x,Not a number\n"))

    response = admin_client.get(job_url(job, "report"))

    assert response.status_code == 200
    assert f"import-{job.pk}-rejected-rows.csv" in response["Content-Disposition"]
    assert b"".join(response.streaming_content) == b"row,EventId,reason\n4,x,Not a number\n"


def test_a_job_without_rejected_rows_has_no_report(admin_client, admin_user):
    job = import_job(admin_user)

    assert admin_client.get(job_url(job, "report")).status_code == 404


def test_a_report_no_longer_stored_is_a_404_not_an_error(admin_client, admin_user):
    job = import_job(admin_user)
    job.error_report.save("rejected.csv", ContentFile(b"row,reason\n"))
    job.error_report.storage.delete(job.error_report.name)

    assert admin_client.get(job_url(job, "report")).status_code == 404


def test_the_job_list_shows_who_when_file_size_state_counts_and_outcome(admin_client, admin_user):
    import_job(admin_user, original_name="march-reversals.csv")
    applied = import_job(admin_user, original_name="fraud.xlsx", state=ImportJob.State.APPLIED)
    applied.summary |= {"applied": {"pending->rejected": 1040}, "changed_since_preview": 0}
    applied.save()

    page = admin_client.get(reverse("admin:conversions_importjob_changelist")).content.decode()

    assert "march-reversals.csv" in page and "fraud.xlsx" in page
    assert "admin" in page
    assert "2.0\xa0KB" in page
    assert "gk-job-state-validated" in page and "gk-job-state-applied" in page
    assert "1,250 · 1,040 · 17" in page
    assert "1,040 changed" in page


def test_confirming_needs_a_post(admin_client, admin_user):
    job = import_job(admin_user)

    assert admin_client.get(job_url(job, "confirm")).status_code == 405
    assert admin_client.get(job_url(job, "retry")).status_code == 405


def test_a_missing_job_is_a_404_not_an_error(admin_client):
    assert admin_client.get("/admin/conversions/importjob/999999/change/").status_code == 404
    assert admin_client.get("/admin/conversions/importjob/999999/status/").status_code == 404
    assert admin_client.get("/admin/conversions/importjob/nope/change/").status_code in {302, 404}


def test_every_import_url_is_forbidden_without_the_status_permission(viewer_client, admin_user):
    # Given a staff user who can view conversions but not change their statuses
    job = import_job(admin_user, state=ImportJob.State.FAILED)
    job.error_report.save("rejected.csv", ContentFile(b"row,reason\n"))

    # When they try each import URL, Then each one is refused
    gets = [
        reverse("admin:conversions_conversion_import"),
        reverse("admin:conversions_importjob_changelist"),
        job_url(job),
        job_url(job, "status"),
        job_url(job, "report"),
    ]
    posts = [
        reverse("admin:conversions_conversion_import"),
        reverse("admin:conversions_conversion_process_import"),
        job_url(job, "confirm"),
        job_url(job, "retry"),
    ]
    for url in gets:
        assert viewer_client.get(url).status_code == 403, url
    for url in posts:
        assert viewer_client.post(url, {"send_no_callbacks": "on"}).status_code == 403, url
    job.refresh_from_db()
    assert job.state == ImportJob.State.FAILED


def test_the_conversion_list_offers_import_only_with_the_status_permission(
    admin_client, viewer_client
):
    changelist = reverse("admin:conversions_conversion_changelist")

    admin_page = admin_client.get(changelist).content.decode()
    viewer_page = viewer_client.get(changelist).content.decode()

    assert reverse("admin:conversions_conversion_import") in admin_page
    assert reverse("admin:conversions_importjob_changelist") in admin_page
    assert reverse("admin:conversions_conversion_export") in admin_page
    assert reverse("admin:conversions_conversion_import") not in viewer_page
    assert reverse("admin:conversions_conversion_export") in viewer_page
