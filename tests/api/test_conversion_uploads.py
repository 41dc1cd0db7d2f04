"""Conversions that tracking missed, sent to the API as a file (``POST
/api/v1/conversion-uploads``): a change set of new conversions like the admin's upload, read,
confirmed and reverted through the change-set routes; it needs a user who may add conversions."""

from datetime import timedelta

import pytest

from conversions.change_sets import services as change_sets
from conversions.models import Click, Conversion, ImportJob, Source, Status, StatusChange
from tests.api.conftest import ApiClient, assert_problem, key_for, user_with

pytestmark = pytest.mark.django_db

URL = "/api/v1/conversion-uploads"
STATUS = ("view_conversion", "change_conversion_status")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def send(api, path, **fields):
    with path.open("rb") as upload:
        return api.client.post(
            URL, {"file": upload, **fields}, headers={"Authorization": api.authorization}
        )


def missed_file(tmp_path, click_factory, offer_event_factory):
    event = offer_event_factory(code="ftd")
    click = click_factory(offer=event.offer)
    Click.objects.filter(pk=click.pk).update(created_at=click.created_at - timedelta(days=1))
    path = tmp_path / "missed.csv"
    path.write_text(
        "ClickId,EventID,UserCompletedAt,Revenue,Reward\n"
        f"{click.gk_click_id},ftd,{(click.created_at - timedelta(hours=20)).isoformat()},20,7.5\n"
        "nope,ftd,2026-01-01 00:00:00,1,1\n"
    )
    return path, click


def test_an_upload_becomes_a_change_set_of_new_conversions(
    django_user_model, tmp_path, click_factory, offer_event_factory
):
    uploader = user_with(django_user_model, "billing", *STATUS, "upload_conversions")
    _key, token = key_for(uploader, name="billing-bot")
    api = ApiClient(token)
    path, click = missed_file(tmp_path, click_factory, offer_event_factory)

    response = send(api, path)

    assert response.status_code == 202, response.content
    job = ImportJob.objects.get(pk=response.json()["id"])
    assert (job.kind, job.original_name) == (
        ImportJob.Kind.UPLOAD,
        "missed.csv (conversions sent with API key billing-bot)",
    )
    change_sets.import_job_validate(import_job=job)
    body = api.get(f"/api/v1/change-sets/{job.pk}").json()
    assert body["preview"]["will_change"] == {"->success": 1}
    assert body["preview"]["not_found"] == 1
    confirmed = api.post(f"/api/v1/change-sets/{job.pk}/confirm", {})
    assert confirmed.status_code == 202, confirmed.content
    change_sets.import_job_apply(import_job=ImportJob.objects.get(pk=job.pk))

    created = Conversion.objects.get()
    assert (created.click_id, created.status, created.status_source) == (
        click.pk,
        Status.SUCCESS,
        Source.MANUAL_UPLOAD,
    )
    audit = StatusChange.objects.get(conversion=created)
    assert (audit.user, audit.import_job_id) == (uploader, job.pk)
    assert api.get(f"/api/v1/change-sets/{job.pk}").json()["state"] == "applied"


def test_a_user_who_may_not_add_conversions_is_refused(
    django_user_model, tmp_path, click_factory, offer_event_factory
):
    _key, token = key_for(user_with(django_user_model, "clerk", *STATUS))
    path, _click = missed_file(tmp_path, click_factory, offer_event_factory)

    body = assert_problem(send(ApiClient(token), path), 403, "missing_permission")

    assert "conversions.upload_conversions" in body["detail"]
    assert not ImportJob.objects.exists()


def test_an_uploads_outcomes_list_each_refused_row_then_each_new_conversion(
    django_user_model, tmp_path, click_factory, offer_event_factory
):
    uploader = user_with(django_user_model, "billing", *STATUS, "upload_conversions")
    api = ApiClient(key_for(uploader)[1])
    path, click = missed_file(tmp_path, click_factory, offer_event_factory)
    job = ImportJob.objects.get(pk=send(api, path).json()["id"])
    change_sets.import_job_validate(import_job=job)

    def outcomes():
        page = api.get(f"/api/v1/change-sets/{job.pk}/outcomes").json()
        return [
            (o["outcome"], o["row"], o["gk_click_id"], o["old_status"], o["new_status"])
            for o in page["items"]
        ]

    assert outcomes() == [
        ("rejected", 3, "nope", "", ""),
        ("will_change", None, click.gk_click_id, "", "success"),
    ]
    change_sets.import_job_confirm(
        import_job=job, user=uploader, send_callbacks=True, queue_apply=False
    )
    change_sets.import_job_apply(import_job=job)
    assert outcomes() == [
        ("rejected", 3, "nope", "", ""),
        ("changed", None, click.gk_click_id, "", "success"),
    ]
