"""The Import page on Conversion Management: upload, size limit, preview, confirm, round trip."""

import csv
import io

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse

from conversions.change_sets import services as change_sets
from conversions.models import ImportJob, Status
from tests.conversions.factories import changes_since_recorded

pytestmark = pytest.mark.django_db

IMPORT_URL = reverse("admin:conversions_conversion_import")
EXPORT_URL = reverse("admin:conversions_conversion_export")
CSV_FORMAT, XLSX_FORMAT = "0", "1"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def stored_files(media_root):
    return [path for path in media_root.rglob("*") if path.is_file()]


def csv_upload(rows, name="statuses.csv"):
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return SimpleUploadedFile(name, buffer.getvalue().encode(), content_type="text/csv")


def upload(client, file):
    # The form's fields: the file, and import-export's one (hidden) resource.
    return client.post(IMPORT_URL, {"import_file": file, "resource": "0"})


def test_the_import_page_renders_with_the_columns_and_the_limit(admin_client):
    page = admin_client.get(IMPORT_URL).content.decode()

    for column in ("gk_click_id", "EventId", "Status", "Reason"):
        assert f'<th scope="row"><code>{column}</code></th>' in page
    assert "up to <strong>100.0\xa0MB</strong>" in page
    assert 'type="file"' in page and 'name="import_file"' in page
    assert "Upload and check" in page


# 1,000 rows pass the limit while streaming in (the upload handler stops them); 20,000 rows
# are refused from Content-Length alone, before a byte of the body is read.
@pytest.mark.parametrize("rows", [1_000, 20_000])
@override_settings(IMPORT_MAX_UPLOAD_BYTES=1000)
def test_an_upload_over_the_limit_is_refused_before_anything_is_stored(
    admin_client, media_root, rows
):
    # Given a file larger than the limit
    big = csv_upload([["EventId", "Status"]] + [[n, "Success"] for n in range(rows)])

    # When the admin uploads it
    response = upload(admin_client, big)

    # Then it is refused with a message that says why, and nothing is kept
    assert response.status_code == 413
    page = response.content.decode()
    assert "files of at most 1000\xa0bytes are accepted" in page
    assert 'name="import_file"' in page
    assert ImportJob.objects.count() == 0
    assert stored_files(media_root) == []


def run_validation(job):
    """What the worker does with the queued validation."""
    return change_sets.import_job_validate(import_job=job)


def run_apply(job):
    """What the worker does with the queued apply."""
    return change_sets.import_job_apply(import_job=job)


def job_url(job, name="change"):
    return reverse(f"admin:conversions_importjob_{name}", args=[job.pk])


def test_an_upload_creates_a_job_and_redirects_to_its_page(
    admin_client, admin_user, conversion_factory, django_capture_on_commit_callbacks
):
    # Given a conversion and a file that changes it
    conversion = conversion_factory()
    file = csv_upload([["EventId", "Status"], [conversion.pk, "Success"]], name="fix.csv")

    # When the admin uploads it
    with django_capture_on_commit_callbacks() as queued:
        response = upload(admin_client, file)

    # Then an import job holds the file, its validation is queued, and the admin is on its page
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == job_url(job)
    assert (job.original_name, job.user, job.size_bytes) == ("fix.csv", admin_user, file.size)
    assert job.file.read() == f"EventId,Status\r\n{conversion.pk},Success\r\n".encode()
    assert queued, "validation is queued after commit"
    page = admin_client.get(response["Location"]).content.decode()
    assert "“fix.csv” uploaded" in page
    assert 'data-running="1"' in page
    conversion.refresh_from_db()
    assert conversion.status == Status.PENDING


def test_an_empty_file_is_refused_with_a_clear_message(admin_client, media_root):
    response = upload(admin_client, SimpleUploadedFile("empty.csv", b""))

    assert response.status_code == 200
    assert "The submitted file is empty." in response.content.decode()
    assert ImportJob.objects.count() == 0


def test_the_preview_shows_counts_and_problem_rows(admin_client, conversion_factory):
    # Given conversions and a file with a change, a no-op, an unknown id and a bad status
    pending, success = conversion_factory(), conversion_factory(status=Status.SUCCESS)
    rows = [
        ["EventId", "Status", "Reason"],
        [pending.pk, "success", "Reconciled"],
        [success.pk, "Success", ""],
        [10**9, "Rejected", ""],
        [pending.pk + success.pk, "Aproved", ""],
    ]
    upload(admin_client, csv_upload(rows))
    job = run_validation(ImportJob.objects.get())

    # When the admin looks at the job
    page = admin_client.get(job_url(job)).content.decode()

    # Then the preview counts every kind of row, names the problem rows, and changes nothing yet
    assert job.state == ImportJob.State.VALIDATED
    assert 'id="summary-rows">4<' in page
    assert 'id="summary-will-change">1<' in page
    assert "Pending → Success" in page
    assert 'id="summary-unchanged">1<' in page
    assert 'id="summary-not-found">1<' in page
    assert 'id="summary-invalid">1<' in page
    assert "Aproved" in page
    assert '<td class="num">5</td>' in page  # the bad status is on line 5 of the file
    assert job_url(job, "report") in page
    assert 'id="confirm-form"' in page
    pending.refresh_from_db()
    assert pending.status == Status.PENDING
    assert not changes_since_recorded().exists()


def test_confirming_queues_the_apply_and_records_the_no_callbacks_choice(
    admin_client, admin_user, conversion_factory, django_capture_on_commit_callbacks
):
    # Given a validated import of two changes
    first, second = conversion_factory.create_batch(2)
    rows = [["EventId", "Status", "Reason"]] + [
        [c.pk, "Rejected", "Fraud"] for c in (first, second)
    ]
    upload(admin_client, csv_upload(rows))
    job = run_validation(ImportJob.objects.get())

    # When the admin confirms it, asking for no partner callbacks
    with django_capture_on_commit_callbacks() as queued:
        response = admin_client.post(job_url(job, "confirm"), {"send_no_callbacks": "on"})

    # Then the job is queued for a worker, without callbacks
    job.refresh_from_db()
    assert response.status_code == 302 and response["Location"] == job_url(job)
    assert job.state == ImportJob.State.QUEUED
    assert job.send_callbacks is False
    assert queued
    page = admin_client.get(job_url(job)).content.decode()
    assert "No partner callbacks will be sent for them." in page
    assert 'id="confirm-form"' not in page

    # And when the worker has applied it, the statuses changed with audit rows that say so
    job = run_apply(job)
    page = admin_client.get(job_url(job)).content.decode()
    assert job.state == ImportJob.State.APPLIED
    assert 'id="applied-total">2<' in page
    for conversion in (first, second):
        conversion.refresh_from_db()
        assert conversion.status == Status.REJECTED
    audit = changes_since_recorded().filter(import_job=job)
    assert audit.count() == 2
    assert all(change.callbacks_suppressed for change in audit)
    assert all(change.user == admin_user and change.reason == "Fraud" for change in audit)


def test_a_second_confirmation_answers_with_the_job_page_and_applies_once(
    admin_client, admin_user, conversion_factory
):
    conversion = conversion_factory()
    upload(admin_client, csv_upload([["EventId", "Status"], [conversion.pk, "Success"]]))
    job = run_validation(ImportJob.objects.get())
    admin_client.post(job_url(job, "confirm"))

    response = admin_client.post(job_url(job, "confirm"), follow=True)

    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == job_url(job)
    job.refresh_from_db()
    assert job.state == ImportJob.State.QUEUED
    assert job.confirmed_by == admin_user
    last = list(response.context["messages"])[-1]
    assert last.level_tag == "info"
    assert last.message.startswith("Already confirmed by admin at ")
    assert last.message.endswith(": it is applied once.")


def edited_csv(content, edited):
    header, *body = csv.reader(io.StringIO(content.decode("utf-8-sig")))
    status_column = header.index("Status")
    for row in body:
        row[status_column] = edited.get(int(row[0]), row[status_column])
    buffer = io.StringIO()
    csv.writer(buffer).writerows([header, *body])
    return ("\ufeff" + buffer.getvalue()).encode()


def edited_xlsx(content, edited):
    workbook = openpyxl.load_workbook(io.BytesIO(content))
    sheet = workbook.active
    status_column = [cell.value for cell in sheet[1]].index("Status")
    for row in sheet.iter_rows(min_row=2):
        row[status_column].value = edited.get(row[0].value, row[status_column].value)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


@pytest.mark.parametrize(("file_format", "edit"), [("csv", edited_csv), ("xlsx", edited_xlsx)])
def test_export_edit_and_reimport_changes_exactly_the_edited_rows(
    admin_client, conversion_factory, file_format, edit
):
    # Given conversions, exported as the list shows them
    conversions = conversion_factory.create_batch(3, status=Status.PENDING)
    export_format = {"csv": CSV_FORMAT, "xlsx": XLSX_FORMAT}[file_format]
    exported = admin_client.post(EXPORT_URL, {"format": export_format, "resource": "0"})
    content = b"".join(exported.streaming_content)

    # When the admin edits the Status of two rows in the file and imports it back
    edited = {conversions[0].pk: "Success", conversions[1].pk: "Rejected"}
    file = SimpleUploadedFile(f"report-edited.{file_format}", edit(content, edited))
    upload(admin_client, file)
    job = run_validation(ImportJob.objects.get())
    assert job.summary["will_change"] == {"pending->success": 1, "pending->rejected": 1}
    assert job.summary["unchanged"] == 1
    admin_client.post(job_url(job, "confirm"))
    run_apply(job)

    # Then exactly the edited conversions changed
    statuses = dict((c.pk, c.status) for c in type(conversions[0]).objects.filter(pk__in=edited))
    assert statuses == {conversions[0].pk: Status.SUCCESS, conversions[1].pk: Status.REJECTED}
    conversions[2].refresh_from_db()
    assert conversions[2].status == Status.PENDING
    assert changes_since_recorded().filter(import_job=job).count() == 2
