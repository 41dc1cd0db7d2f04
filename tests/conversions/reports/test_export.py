"""The conversion report from Conversion Management: CSV and XLSX, streamed, formulas escaped."""

import csv
import io
from decimal import Decimal

import openpyxl
import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from conversions.models import Status
from conversions.reports import xlsx as xlsx_export
from conversions.reports.xlsx import xlsx_stream

pytestmark = pytest.mark.django_db

EXPORT_URL = reverse("admin:conversions_conversion_export")
CSV_FORMAT, XLSX_FORMAT = "0", "1"


def export(client, file_format, query=""):
    response = client.post(f"{EXPORT_URL}{query}", {"format": file_format, "resource": "0"})
    assert response.status_code == 200, response.content[:500]
    return response


def csv_rows(response):
    assert response.streaming
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_the_export_page_offers_csv_and_xlsx(admin_client):
    page = admin_client.get(EXPORT_URL).content.decode()

    assert ">csv<" in page and ">xlsx<" in page
    assert "EventId, gk_click_id, Status, Reason" in page


def test_csv_export_has_the_id_column_and_the_report_fields(admin_client, conversion_factory):
    # Given a conversion
    conversion = conversion_factory(
        status=Status.SUCCESS,
        click__offer__name="Dragon Quest",
        click__partner__name="RewardsApp",
        click__sub_id="player-7",
        offer_event__code="level_10",
        offer_event__name="Level 10",
        payout=Decimal("1.5000"),
        transaction_id="T-1",
    )

    # When the admin exports the report as CSV
    response = export(admin_client, CSV_FORMAT)

    # Then it is a streamed CSV download with one row per conversion
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment;" in response["Content-Disposition"]
    assert ".csv" in response["Content-Disposition"]
    (row,) = csv_rows(response)
    assert row["EventId"] == str(conversion.pk)
    assert row["gk_click_id"] == conversion.click.gk_click_id
    assert row["Status"] == "Success"
    assert row["Offer"] == "Dragon Quest"
    assert row["Offer ID"] == str(conversion.offer_id)
    assert row["Event"] == "level_10"
    assert row["Partner"] == "RewardsApp"
    assert row["Partner sub id"] == "player-7"
    assert row["Payout"] == "1.5000"
    assert row["Transaction ID"] == "T-1"
    assert row["Status source"] == "Postback"
    assert row["Created (UTC)"].startswith(f"{conversion.created_at:%Y-%m-%d %H:%M}")


def test_export_follows_the_lists_filters(admin_client, conversion_factory):
    # Given conversions in two statuses
    success = conversion_factory.create_batch(2, status=Status.SUCCESS)
    conversion_factory(status=Status.REJECTED)

    # When the admin exports the list filtered to Success (the Export link keeps the filters)
    changelist = admin_client.get(
        reverse("admin:conversions_conversion_changelist"), {"status__exact": "success"}
    ).content.decode()
    assert f"{EXPORT_URL}?status__exact=success" in changelist
    rows = csv_rows(export(admin_client, CSV_FORMAT, "?status__exact=success"))

    # Then only those are in the file
    assert sorted(int(row["EventId"]) for row in rows) == sorted(c.pk for c in success)


def test_export_follows_the_lists_search(admin_client, conversion_factory):
    wanted = conversion_factory()
    conversion_factory()

    rows = csv_rows(export(admin_client, CSV_FORMAT, f"?q={wanted.click.gk_click_id}"))

    assert [row["EventId"] for row in rows] == [str(wanted.pk)]


@pytest.mark.parametrize("dangerous", ["=1+2", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx"])
def test_cells_a_spreadsheet_would_run_as_formulas_are_escaped(
    admin_client, conversion_factory, dangerous
):
    conversion_factory(status_reason=dangerous, transaction_id=dangerous)

    (row,) = csv_rows(export(admin_client, CSV_FORMAT))
    workbook = openpyxl.load_workbook(io.BytesIO(_content(export(admin_client, XLSX_FORMAT))))
    sheet = workbook.active
    header = [cell.value for cell in sheet[1]]
    xlsx_row = dict(zip(header, [cell.value for cell in sheet[2]], strict=True))

    assert row["Reason"] == "'" + dangerous
    assert row["Transaction ID"] == "'" + dangerous
    assert xlsx_row["Reason"] == "'" + dangerous
    assert sheet.cell(row=2, column=header.index("Reason") + 1).data_type == "s"


def _content(response):
    return b"".join(response.streaming_content)


def test_xlsx_export_has_typed_cells(admin_client, conversion_factory):
    conversion = conversion_factory(status=Status.PENDING, payout=Decimal("2.2500"))

    response = export(admin_client, XLSX_FORMAT)

    assert response["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert ".xlsx" in response["Content-Disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(_content(response))).active
    rows = list(sheet.iter_rows(values_only=True))
    header = list(rows[0])
    assert header[:4] == ["EventId", "gk_click_id", "Status", "Reason"]
    assert len(rows) == 2
    row = dict(zip(header, rows[1], strict=True))
    assert row["EventId"] == conversion.pk
    assert row["Status"] == "Pending"
    assert row["Payout"] == 2.25
    assert row["Created (UTC)"].strftime("%Y-%m-%d %H:%M") == (
        f"{conversion.created_at:%Y-%m-%d %H:%M}"
    )


def test_export_needs_view_permission_only(client, django_user_model, conversion_factory):
    conversion_factory()
    viewer = django_user_model.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_conversion"))
    nobody = django_user_model.objects.create_user("nobody", is_staff=True)

    client.force_login(nobody)
    assert client.get(EXPORT_URL).status_code == 403
    assert client.post(EXPORT_URL, {"format": CSV_FORMAT}).status_code == 403
    client.force_login(viewer)
    assert len(csv_rows(export(client, CSV_FORMAT))) == 1


def test_xlsx_export_streams_its_first_bytes_before_reading_the_rows():
    read = []

    def rows():
        for number in range(1, 1201):
            read.append(number)
            yield [number, f"click-{number}", " padded ", None]

    stream = xlsx_stream(["EventId", "gk_click_id", "Reason", "Empty"], rows())

    first = next(stream)

    assert first.startswith(b"PK\x03\x04")
    assert read == []
    content = first + b"".join(stream)
    sheet = openpyxl.load_workbook(io.BytesIO(content), read_only=True).active
    values = list(sheet.iter_rows(values_only=True))
    assert len(values) == 1201
    assert values[1200][:3] == (1200, "click-1200", " padded ")


def test_an_xlsx_sheet_too_large_to_open_ends_with_a_row_that_says_so(monkeypatch):
    monkeypatch.setattr(xlsx_export, "MAX_SHEET_BYTES", 100_000)
    rows = ([number, "x" * 100] for number in range(1, 10_001))

    content = b"".join(xlsx_stream(["EventId", "Reason"], rows))

    values = list(
        openpyxl.load_workbook(io.BytesIO(content), read_only=True).active.iter_rows(
            values_only=True
        )
    )
    *data, last = values[1:]
    assert [row[0] for row in data] == list(range(1, len(data) + 1))
    assert 0 < len(data) < 10_000
    assert last[0] == (
        f"The export stops here, after {len(data):,} rows: an XLSX sheet this large cannot be "
        "opened. Export the rest as CSV, or filter the list to fewer conversions."
    )
