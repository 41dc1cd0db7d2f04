"""Amounts in the status file through the admin, end to end (issue 23, item 2): a file uploaded
in the browser's way, checked and applied by a real Celery worker; a real partner receiver hears
the new payout; the overview and the list's totals follow; the revert, also by the worker, puts
the money back to the cent. And the conversion report, exported, with a Payout edited, imports
back as that one amount change."""

import csv
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from conversions.change_sets import services as change_sets
from conversions.models import Conversion, ImportJob, Status
from conversions.overview import overview_read
from conversions.selectors import conversion_totals_tallied
from tests.audit import assert_audit_intact
from tests.callbacks import conftest as callbacks_given

receiver = callbacks_given.receiver
celery_worker = callbacks_given.celery_worker
callback_settings = callbacks_given.callback_settings
loopback_only_network = callbacks_given.loopback_only_network
wait_until = callbacks_given.wait_until

IMPORT_URL = reverse("admin:conversions_conversion_import")
EXPORT_URL = reverse("admin:conversions_conversion_export")


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def csv_upload(rows, name="amounts.csv"):
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return SimpleUploadedFile(name, buffer.getvalue().encode(), content_type="text/csv")


def job_url(job, name="change"):
    return reverse(f"admin:conversions_importjob_{name}", args=[job.pk])


def success_money():
    """The overview's last 7 days of Success, and the list's totals of Success (the tally)."""
    window = overview_read().windows[1].by_status[Status.SUCCESS]
    totals = conversion_totals_tallied(status=Status.SUCCESS)
    return window.payout.get("USD"), window.revenue.get("USD"), totals.payout.get("USD")


def test_an_amounts_file_is_heard_by_the_partner_counted_and_put_back_by_its_revert(
    celery_worker,
    receiver,
    admin_client,
    admin_user,
    partner_factory,
    offer_event_factory,
    conversion_factory,
):
    partner = partner_factory(callback_url=receiver.url)
    event = offer_event_factory(payout=Decimal("4.00"), revenue=Decimal("6.00"))
    made = {
        name: conversion_factory(
            click__offer=event.offer, click__partner=partner, offer_event=event, status=status
        )
        for name, status in [
            ("raised", Status.SUCCESS),
            ("approved", Status.PENDING),
            ("pending", Status.PENDING),
        ]
    }
    before = success_money()
    assert before == (Decimal("4.00"), Decimal("6.00"), Decimal("4.00"))
    rows = [
        ["EventId", "Status", "Payout", "Revenue", "Reason"],
        [made["raised"].pk, "", "10.1250", "", "Advertiser statement"],
        [made["approved"].pk, "Success", "", "7.50", ""],
        [made["pending"].pk, "", "", "9", "Revenue corrected"],  # revenue only: no callback
    ]

    response = admin_client.post(IMPORT_URL, {"import_file": csv_upload(rows), "resource": "0"})

    assert response.status_code == 302
    job = ImportJob.objects.get()
    wait_until(lambda: ImportJob.objects.get().state == ImportJob.State.VALIDATED)
    page = admin_client.get(job_url(job)).text
    assert "Success, amounts only" in page and "Pending, amounts only" in page
    assert "Amount changes" in page
    assert "12.00 USD → 18.125 USD" in page  # payout before → after of the three
    assert "Partners will be sent <strong>2 callbacks</strong>" in page

    admin_client.post(job_url(job, "confirm"), {})
    wait_until(lambda: ImportJob.objects.get(pk=job.pk).state == ImportJob.State.APPLIED)

    heard = receiver.wait_for(2)
    assert sorted(
        (
            c.json["conversion"]["conversionId"],
            c.json["conversion"]["status"],
            c.json["conversion"]["payout"],
            c.json["conversion"]["revenue"],
            c.json["conversion"]["statusChangeNumber"],
        )
        for c in heard
    ) == sorted(
        [
            (made["raised"].pk, "Success", "10.1250", "6.0000", 2),
            (made["approved"].pk, "Success", "4.0000", "7.5000", 2),
        ]
    )
    assert success_money() == (Decimal("14.125"), Decimal("13.50"), Decimal("14.125"))

    revert = change_sets.import_job_revert(
        import_job=ImportJob.objects.get(pk=job.pk), user=admin_user
    )
    wait_until(lambda: ImportJob.objects.get(pk=revert.pk).state == ImportJob.State.VALIDATED)
    admin_client.post(job_url(revert, "confirm"), {})
    wait_until(lambda: ImportJob.objects.get(pk=revert.pk).state == ImportJob.State.APPLIED)

    assert success_money() == before
    assert sorted(Conversion.objects.values_list("status", "payout", "revenue")) == sorted(
        [
            (Status.SUCCESS, Decimal("4.00"), Decimal("6.00")),
            (Status.PENDING, Decimal("4.00"), Decimal("6.00")),
            (Status.PENDING, Decimal("4.00"), Decimal("6.00")),
        ]
    )
    # The partner hears the old payout back, and the approval taken back (not the revenue).
    back = receiver.wait_for(4)[2:]
    assert sorted(
        (
            c.json["conversion"]["conversionId"],
            c.json["conversion"]["status"],
            c.json["conversion"]["payout"],
        )
        for c in back
    ) == sorted(
        [(made["raised"].pk, "Success", "4.0000"), (made["approved"].pk, "Pending", "4.0000")]
    )
    assert_audit_intact()


@pytest.mark.django_db
def test_an_exported_report_with_one_payout_edited_imports_back_as_that_change(
    admin_client, admin_user, conversion_factory
):
    conversions = conversion_factory.create_batch(3, status=Status.SUCCESS)
    exported = admin_client.post(EXPORT_URL, {"format": "0", "resource": "0"})
    lines = list(csv.reader(io.StringIO(b"".join(exported.streaming_content).decode("utf-8-sig"))))
    payout_at = lines[0].index("Payout")
    for line in lines[1:]:
        if line[0] == str(conversions[1].pk):
            line[payout_at] = "0.75"

    admin_client.post(
        IMPORT_URL, {"import_file": csv_upload(lines, name="report.csv"), "resource": "0"}
    )
    job = change_sets.import_job_validate(import_job=ImportJob.objects.get())

    assert job.summary["will_change"] == {"success->success": 1}
    assert (job.summary["unchanged"], job.summary["amounts"]) == (2, 1)
    change_sets.import_job_confirm(
        import_job=job, user=admin_user, send_callbacks=True, queue_apply=False
    )
    change_sets.import_job_apply(import_job=job)
    assert sorted(Conversion.objects.values_list("payout", flat=True)) == sorted(
        [conversions[0].payout, Decimal("0.75"), conversions[2].payout]
    )
    assert_audit_intact()
