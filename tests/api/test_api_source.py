"""Single status changes through the API are the API's own: audited with source ``api``, the key's
user and name; "send no partner callback" honoured (a real receiver gets nothing); and the
approval window counts them with the admin's buttons, so a key cannot escape four-eyes approval
one conversion at a time."""

import pytest

from callbacks.models import CallbackDelivery
from conversions.change_sets import services as change_sets
from conversions.change_sets.selection import selection_status_set
from conversions.models import ImportJob, Source, Status, StatusChange
from tests.api.conftest import ApiClient, key_for, user_with
from tests.audit import assert_audit_intact
from tests.callbacks import conftest as callbacks_given
from tests.conversions.factories import changes_since_recorded

# A real partner receiver and a real Celery worker (fixtures of tests/callbacks).
receiver = callbacks_given.receiver
celery_worker = callbacks_given.celery_worker
callback_settings = callbacks_given.callback_settings
wait_until = callbacks_given.wait_until

LIST = "/api/v1/conversions"
GOKART = "/api/v1/sdk-conversion-system/conversions"


def change(api, conversion, status, **body):
    return api.post(f"{LIST}/{conversion.pk}/status-changes", {"status": status, **body})


@pytest.mark.django_db
def test_each_route_audits_source_api_with_the_user_and_the_keys_name(
    api, operator, conversion_factory
):
    ours, gokart = conversion_factory.create_batch(2)

    assert change(api, ours, "rejected", reason="fraud").status_code == 200
    assert (
        api.patch(f"{GOKART}/{gokart.click.gk_click_id}/status?status=Success").status_code == 200
    )

    rows = {row.conversion_id: row for row in changes_since_recorded()}
    assert (rows[ours.pk].source, rows[ours.pk].user, rows[ours.pk].reason) == (
        Source.API,
        operator,
        "fraud (API key: billing-bot)",
    )
    assert (rows[gokart.pk].source, rows[gokart.pk].reason) == (
        Source.API,
        "(API key: billing-bot)",
    )
    ours.refresh_from_db()
    assert ours.status_source == Source.API
    history = api.get(f"{LIST}/{ours.pk}").json()["history"]
    assert history[0]["source"] == "api"
    assert api.get(LIST, {"source": "api"}).json()["items"][0]["id"] in (ours.pk, gokart.pk)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("callback_settings")
def test_send_callbacks_false_sends_the_partner_nothing(
    celery_worker, receiver, operator, partner_factory, conversion_factory
):
    partner = partner_factory(callback_url=receiver.url)
    quiet, heard, quiet_gokart = conversion_factory.create_batch(3, click__partner=partner)
    _key, token = key_for(operator)
    api = ApiClient(token)

    assert change(api, quiet, "success", send_callbacks=False).status_code == 200
    assert (
        api.patch(
            f"{GOKART}/{quiet_gokart.click.gk_click_id}/status?status=Success&send_callbacks=false"
        ).status_code
        == 200
    )
    assert change(api, heard, "success").status_code == 200

    [callback] = receiver.wait_for(1)
    assert callback.json["conversion"]["conversionId"] == heard.pk
    wait_until(lambda: not CallbackDelivery.objects.exclude(state="delivered").exists())
    assert [c.json["conversion"]["conversionId"] for c in receiver.received] == [heard.pk]
    for conversion in (quiet, quiet_gokart):
        row = StatusChange.objects.get(conversion_id=conversion.pk, sequence_number=2)
        assert (row.source, row.callbacks_suppressed, row.callback_owed) == (
            Source.API,
            True,
            False,
        )
        assert not CallbackDelivery.objects.filter(conversion_id=conversion.pk).exists()
    assert_audit_intact()


@pytest.mark.django_db
def test_one_change_at_a_time_through_the_api_reaches_the_approval_window(
    api, settings, conversion_factory
):
    settings.IMPORT_APPROVAL_MIN_CONVERSIONS = 3
    first, second, third = conversion_factory.create_batch(3)

    assert change(api, first, "success").status_code == 200
    assert change(api, second, "success").status_code == 200
    response = change(api, third, "success")

    assert response.status_code == 202
    body = response.json()
    assert (
        "with the 2 conversions you changed in the last 24 hours it makes 3"
        in (body["approval_reason"])
    )
    third.refresh_from_db()
    assert third.status == Status.PENDING
    job = ImportJob.objects.get(pk=body["change_set_id"])
    assert (job.kind, job.state, job.approval_required) == ("api", "validated", True)
    assert "billing-bot" in job.origin


@pytest.mark.django_db
def test_the_admins_buttons_and_the_api_count_together(api, operator, settings, conversion_factory):
    settings.IMPORT_APPROVAL_MIN_CONVERSIONS = 2
    by_button, by_key = conversion_factory.create_batch(2)
    selection_status_set(
        conversion_ids=[by_button.pk], status=Status.SUCCESS, user=operator, single=True
    )

    response = api.patch(f"{GOKART}/{by_key.click.gk_click_id}/status?status=Success")

    assert response.status_code == 202
    by_key.refresh_from_db()
    assert by_key.status == Status.PENDING


@pytest.mark.django_db
def test_a_waiting_change_without_callbacks_stays_without_them_when_approved(
    api, settings, django_user_model, conversion_factory
):
    settings.IMPORT_APPROVAL_MIN_CONVERSIONS = 1
    conversion = conversion_factory()
    response = change(api, conversion, "rejected", reason="fraud", send_callbacks=False)
    job = ImportJob.objects.get(pk=response.json()["change_set_id"])
    approver = user_with(
        django_user_model, "approver", "change_conversion_status", "approve_large_status_change"
    )

    change_sets.import_job_confirm(
        import_job=job, user=approver, send_callbacks=True, queue_apply=False
    )
    change_sets.import_job_apply(import_job=job)

    [row] = changes_since_recorded()
    assert (row.source, row.user, row.callbacks_suppressed) == (Source.API, approver, True)
    assert row.reason == "fraud (API key: billing-bot)"
    assert not CallbackDelivery.objects.filter(conversion_id=conversion.pk).exists()
