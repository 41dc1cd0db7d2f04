"""The conversion upload in the admin, end to end (issue 23, item 1): the page and who may use
it, then a file uploaded in the browser's way, checked and applied by a real Celery worker, heard
by a real partner receiver, counted by the overview, and rejected by its revert."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from conversions.change_sets import services as change_sets
from conversions.models import Click, Conversion, ImportJob, Source, Status
from conversions.overview import overview_read
from tests.audit import assert_audit_intact
from tests.callbacks import conftest as callbacks_given

receiver = callbacks_given.receiver
celery_worker = callbacks_given.celery_worker
callback_settings = callbacks_given.callback_settings
loopback_only_network = callbacks_given.loopback_only_network
wait_until = callbacks_given.wait_until

UPLOAD_URL = reverse("admin:conversions_conversion_upload")
HEADER = ["ClickId", "EventID", "UserCompletedAt", "Revenue", "Reward", "Status"]


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def csv_upload(rows):
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return SimpleUploadedFile("missed.csv", buffer.getvalue().encode(), content_type="text/csv")


def past_clicks(click_factory, count, **fields):
    clicks = [click_factory(**fields) for _ in range(count)]
    Click.objects.filter(pk__in=[c.pk for c in clicks]).update(
        created_at=clicks[0].created_at - timedelta(days=2)
    )
    for click in clicks:
        click.refresh_from_db()
    return clicks


def completed(click):
    return (click.created_at + timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.django_db
def test_the_upload_page_explains_the_columns_and_needs_the_add_permission(
    admin_client, client, django_user_model
):
    page = admin_client.get(UPLOAD_URL).content.decode()
    for column in ("ClickId", "EventID", "UserCompletedAt", "Revenue", "Reward"):
        assert f'<th scope="row"><code>{column}</code></th>' in page
    assert "Conversion file" in page and "Upload and check" in page
    listing = admin_client.get(reverse("admin:conversions_conversion_changelist"))
    assert f'href="{UPLOAD_URL}"' in listing.text

    agent = django_user_model.objects.create_user("agent", password="x", is_staff=True)
    agent.user_permissions.set(
        Permission.objects.filter(codename__in=["view_conversion", "change_conversion_status"])
    )
    client.force_login(agent)
    assert client.get(UPLOAD_URL).status_code == 403
    assert client.post(UPLOAD_URL, {"import_file": csv_upload([HEADER])}).status_code == 403
    assert (
        f'href="{UPLOAD_URL}"'
        not in client.get(reverse("admin:conversions_conversion_changelist")).text
    )
    assert not ImportJob.objects.exists()

    agent.user_permissions.add(Permission.objects.get(codename="upload_conversions"))
    agent = django_user_model.objects.get(pk=agent.pk)  # its permissions read again
    client.force_login(agent)
    assert client.get(UPLOAD_URL).status_code == 200


def test_an_uploaded_file_is_heard_by_the_partner_counted_and_rejected_by_its_revert(
    celery_worker,
    receiver,
    admin_client,
    admin_user,
    partner_factory,
    offer_event_factory,
    click_factory,
):
    partner = partner_factory(callback_url=receiver.url)
    event = offer_event_factory(code="purchase")
    clicks = past_clicks(click_factory, 3, offer=event.offer, partner=partner)
    rows = [HEADER] + [
        [click.gk_click_id, "purchase", completed(click), "10.00", "4.00", status]
        for click, status in zip(clicks, ["Success", "Success", "Pending"], strict=True)
    ]
    rows.append(["unknown", "purchase", completed(clicks[0]), "1", "1", ""])
    before = overview_read().windows[1].by_status  # the last 7 days

    response = admin_client.post(UPLOAD_URL, {"import_file": csv_upload(rows), "resource": "0"})

    job = ImportJob.objects.get()
    assert response.status_code == 302, response.content.decode()[:500]
    assert job.kind == ImportJob.Kind.UPLOAD
    wait_until(lambda: ImportJob.objects.get().state == ImportJob.State.VALIDATED)
    page = admin_client.get(reverse("admin:conversions_importjob_change", args=[job.pk])).text
    assert "New conversions to record" in page
    assert "New → Success" in page and "New → Pending" in page
    assert "+8.00 USD" in page  # the payout the two Success conversions move
    assert "3 conversions will be recorded" in page
    assert "No click has gk_click_id unknown." in page
    changes = admin_client.get(reverse("admin:conversions_importjob_changes", args=[job.pk]))
    listed = list(csv.reader(io.StringIO(b"".join(changes.streaming_content).decode("utf-8-sig"))))
    assert sorted(line[1] for line in listed[1:]) == sorted(c.gk_click_id for c in clicks)

    admin_client.post(reverse("admin:conversions_importjob_confirm", args=[job.pk]), {})
    wait_until(lambda: ImportJob.objects.get(pk=job.pk).state == ImportJob.State.APPLIED)

    heard = receiver.wait_for(3)
    created = {c.click_id: c for c in Conversion.objects.all()}
    assert sorted(
        (c.json["conversion"]["conversionId"], c.json["conversion"]["status"]) for c in heard
    ) == sorted(
        (created[click.pk].pk, status)
        for click, status in zip(clicks, ["Success", "Success", "Pending"], strict=True)
    )
    assert {c.status_source for c in created.values()} == {Source.MANUAL_UPLOAD}
    after = overview_read().windows[1].by_status
    assert after[Status.SUCCESS].conversions - before[Status.SUCCESS].conversions == 2
    assert after[Status.SUCCESS].payout["USD"] - before[Status.SUCCESS].payout.get(
        "USD", Decimal(0)
    ) == Decimal("8.00")
    assert after[Status.PENDING].conversions - before[Status.PENDING].conversions == 1

    revert = change_sets.import_job_revert(
        import_job=ImportJob.objects.get(pk=job.pk), user=admin_user
    )
    wait_until(lambda: ImportJob.objects.get(pk=revert.pk).state == ImportJob.State.VALIDATED)
    admin_client.post(reverse("admin:conversions_importjob_confirm", args=[revert.pk]), {})
    wait_until(lambda: ImportJob.objects.get(pk=revert.pk).state == ImportJob.State.APPLIED)

    assert set(Conversion.objects.values_list("status", flat=True)) == {Status.REJECTED}
    rejections = receiver.wait_for(6)[3:]
    assert sorted(c.json["conversion"]["conversionId"] for c in rejections) == sorted(
        c.pk for c in created.values()
    )
    assert {c.json["conversion"]["rejectionReason"] for c in rejections} == {
        f"Revert of conversion upload {job.pk}"
    }
    assert Conversion.objects.count() == 3
    reverted = overview_read().windows[1].by_status
    assert reverted[Status.SUCCESS].conversions == before[Status.SUCCESS].conversions
    assert reverted[Status.REJECTED].conversions - before[Status.REJECTED].conversions == 3
    assert_audit_intact()
