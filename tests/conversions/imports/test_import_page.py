"""The Import page: its instructions once, no format select, and the status file's template to
download (CSV and XLSX), which imports once filled in."""

import csv
import io

import openpyxl
import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from conversions.change_sets import services as change_sets
from conversions.models import ImportJob, Status

pytestmark = pytest.mark.django_db

IMPORT_URL = reverse("admin:conversions_conversion_import")
HEADER = ["gk_click_id", "EventId", "Status", "Reason", "TransactionId", "OfferId"]
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def template_url(file_format):
    return reverse("admin:conversions_conversion_import_template", args=[file_format])


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_the_import_page_has_no_format_select_and_its_instructions_once(admin_client):
    page = admin_client.get(IMPORT_URL).text

    # No format to choose: it is the file name's, checked against the content
    assert 'name="format"' not in page and "id_format" not in page
    assert "guess_format" not in page
    # The instructions once: import-export's field list and the field's help do not repeat them
    assert page.count("Headers are matched") + page.count("matched ignoring case") == 1
    assert page.count("Pending, Success or Rejected") == 1
    assert page.count("up to <strong>100.0\xa0MB</strong>") == 1
    assert "This importer will import the following fields" not in page
    assert page.count('id="gk-import-instructions"') == 1
    # And the templates are offered from it
    assert f'href="{template_url("csv")}"' in page
    assert f'href="{template_url("xlsx")}"' in page


def test_the_csv_template_has_the_importers_header(admin_client):
    response = admin_client.get(template_url("csv"))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        response["Content-Disposition"] == 'attachment; filename="conversion-statuses-template.csv"'
    )
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows == [HEADER]


def test_the_xlsx_template_opens_with_the_importers_header(admin_client):
    response = admin_client.get(template_url("xlsx"))

    assert response.status_code == 200
    assert response["Content-Type"] == XLSX_TYPE
    assert 'filename="conversion-statuses-template.xlsx"' in response["Content-Disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert [cell.value for cell in sheet[1]] == HEADER
    assert sheet.max_row == 1


def test_an_unknown_template_format_is_not_found(admin_client):
    assert admin_client.get(template_url("xls")).status_code == 404


def test_the_templates_need_the_import_permission(client, django_user_model):
    # Given a user who may view conversions but not change their status
    viewer = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_conversion"))
    client.force_login(viewer)

    # Then the templates are refused as the import page is, naming the permission
    for file_format in ("csv", "xlsx"):
        response = client.get(template_url(file_format))
        assert response.status_code == 403
        assert "“Can change the status of conversions”" in response.text
    assert client.get(IMPORT_URL).status_code == 403


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_a_filled_in_template_imports(admin_client, conversion_factory, file_format):
    # Given the template, filled in with one change
    conversion = conversion_factory(status=Status.PENDING)
    content = admin_client.get(template_url(file_format)).content
    row = [conversion.click.gk_click_id, conversion.pk, "Success", "Reconciled"]
    if file_format == "csv":
        content += ",".join(str(value) for value in row).encode() + b"\r\n"
    else:
        workbook = openpyxl.load_workbook(io.BytesIO(content))
        workbook.active.append(row)
        out = io.BytesIO()
        workbook.save(out)
        content = out.getvalue()

    # When it is uploaded and checked
    response = admin_client.post(
        IMPORT_URL,
        {"import_file": SimpleUploadedFile(f"filled.{file_format}", content), "resource": "0"},
    )
    assert response.status_code == 302
    job = change_sets.import_job_validate(import_job=ImportJob.objects.get())

    # Then its one row will change that conversion
    assert job.state == ImportJob.State.VALIDATED
    assert job.summary["rows"] == 1
    assert job.summary["will_change"] == {"pending->success": 1}


def test_a_format_still_posted_by_an_old_script_is_ignored(admin_client, conversion_factory):
    conversion = conversion_factory()
    file = SimpleUploadedFile("fix.csv", f"EventId,Status\n{conversion.pk},Success\n".encode())

    response = admin_client.post(IMPORT_URL, {"import_file": file, "format": "2", "resource": "0"})

    assert response.status_code == 302
    assert ImportJob.objects.get().file_format == "csv"
