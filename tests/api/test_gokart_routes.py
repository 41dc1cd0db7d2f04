"""The GoKart-compatible routes: GoKart's paths, parameters, field names and status codes.

Ids: GoKart's conversionId is our click's gk_click_id; conversionEventId our Conversion Event
ID (one event of the click)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from api.models import Scope
from callbacks.models import CallbackDelivery
from conversions.models import ImportJob, Source, Status
from tests.api.conftest import ApiClient, assert_problem, key_for, user_with
from tests.conversions.factories import changes_since_recorded

pytestmark = pytest.mark.django_db

BASE = "/api/v1/sdk-conversion-system/conversions"
GOKART_FIELDS = {
    "conversionId",
    "conversionEventId",
    "eventId",
    "offerId",
    "status",
    "rejectionReason",
    "isRewardSent",
    "payout",
    "revenue",
    "currency",
    "transactionId",
    "pubSub",
    "completedAt",
}


def today_range(**extra):
    today = timezone.now().date()
    return {"start_date": str(today - timedelta(days=1)), "end_date": str(today), **extra}


# --- the list ---------------------------------------------------------------------------------


def test_the_list_answers_gokarts_fields(api, conversion_factory):
    conversion = conversion_factory(status_reason="")

    response = api.get(BASE, today_range())

    assert response.status_code == 200
    body = response.json()
    assert (body["page"], body["page_size"], body["has_more"]) == (0, 10, False)
    [row] = body["conversions"]
    assert set(row) == GOKART_FIELDS
    assert row["conversionId"] == conversion.click.gk_click_id
    assert row["conversionEventId"] == conversion.pk
    assert row["status"] == "Pending"
    assert row["rejectionReason"] is None
    assert row["isRewardSent"] is False


def test_the_list_pages_from_0_in_the_order_asked(api, conversion_factory):
    conversions = [conversion_factory() for _ in range(3)]

    first = api.get(BASE, today_range(page_size=2, orderby="conversionEventId", order_asc="true"))
    second = api.get(
        BASE, today_range(page=1, page_size=2, orderby="conversionEventId", order_asc="true")
    )

    ids = [c.pk for c in conversions]
    assert [r["conversionEventId"] for r in first.json()["conversions"]] == ids[:2]
    assert first.json()["has_more"] is True
    assert [r["conversionEventId"] for r in second.json()["conversions"]] == ids[2:]
    assert second.json()["has_more"] is False


def test_the_list_keeps_to_the_completion_date_range(api, conversion_factory):
    conversion_factory(created_at=timezone.now() - timedelta(days=10))

    response = api.get(BASE, today_range())

    assert response.json()["conversions"] == []


def test_the_list_requires_the_date_range(api):
    body = assert_problem(api.get(BASE), 422, "invalid_request")
    assert {tuple(e["loc"])[-1] for e in body["errors"]} == {"start_date", "end_date"}


def test_a_date_range_over_3_months_is_refused(api):
    assert_problem(
        api.get(BASE, {"start_date": "2026-01-01", "end_date": "2026-04-15"}),
        422,
        "date_range_too_long",
    )


def test_a_reversed_date_range_is_refused(api):
    assert_problem(
        api.get(BASE, {"start_date": "2026-02-01", "end_date": "2026-01-01"}),
        422,
        "invalid_date_range",
    )


@pytest.mark.parametrize(
    "params",
    [{"page_size": 0}, {"page_size": 101}, {"page_size": 10**9}, {"page": -1}, {"orderby": "x"}],
)
def test_bad_paging_is_a_problem_naming_the_parameter(api, params):
    body = assert_problem(api.get(BASE, today_range(**params)), 422, "invalid_request")
    assert list(params)[0] in body["detail"]


def test_a_page_too_deep_points_to_the_cursor_route(api):
    body = assert_problem(api.get(BASE, today_range(page=200, page_size=100)), 422, "page_too_deep")
    assert "/api/v1/conversions" in body["detail"]


def test_the_list_needs_the_read_scope(operator):
    _key, token = key_for(operator, scopes=[Scope.CONVERSIONS_WRITE])

    assert_problem(ApiClient(token).get(BASE, today_range()), 403, "missing_scope")


# --- the status PATCH -------------------------------------------------------------------------


def test_the_single_event_patch_changes_the_status_as_the_keys_user(
    api, operator, operator_key, conversion_factory
):
    conversion = conversion_factory()
    gk_click_id = conversion.click.gk_click_id

    response = api.patch(f"{BASE}/{gk_click_id}/status?status=Success")

    assert response.status_code == 200
    assert response.json() == {
        "conversionId": gk_click_id,
        "conversionEventId": conversion.pk,
        "status": "Success",
        "rejectionReason": "(API key: billing-bot)",
        "isRewardSent": False,
    }
    conversion.refresh_from_db()
    assert conversion.status == Status.SUCCESS
    [row] = changes_since_recorded()
    assert (row.user, row.source, row.new_status) == (operator, Source.API, Status.SUCCESS)
    assert row.reason == "(API key: billing-bot)"


def test_the_patch_records_the_reason_and_the_key(api, operator, conversion_factory):
    conversion = conversion_factory()

    response = api.patch(
        f"{BASE}/{conversion.click.gk_click_id}/status?status=Rejected&reason=fraud"
    )

    assert response.json()["status"] == "Rejected"
    assert response.json()["rejectionReason"] == "fraud (API key: billing-bot)"
    [row] = changes_since_recorded()
    assert (row.user, row.reason) == (operator, "fraud (API key: billing-bot)")


def test_the_multi_event_patch_changes_that_event_only(
    api, conversion_factory, offer_event_factory
):
    first = conversion_factory()
    second_event = offer_event_factory(offer=first.offer)
    second = conversion_factory(click=first.click, offer_event=second_event)
    gk_click_id = first.click.gk_click_id

    response = api.patch(f"{BASE}/{gk_click_id}/{second.pk}/status?status=Rejected")

    assert response.status_code == 200
    assert response.json()["conversionEventId"] == second.pk
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (Status.PENDING, Status.REJECTED)


def test_the_single_event_patch_refuses_a_multi_event_conversion(
    api, conversion_factory, offer_event_factory
):
    first = conversion_factory()
    conversion_factory(click=first.click, offer_event=offer_event_factory(offer=first.offer))

    body = assert_problem(
        api.patch(f"{BASE}/{first.click.gk_click_id}/status?status=Success"),
        409,
        "multi_event_conversion",
    )

    assert str(first.pk) in body["detail"]
    assert not changes_since_recorded().exists()


def test_an_event_of_another_conversion_is_not_found(api, conversion_factory):
    one, other = conversion_factory(), conversion_factory()

    assert_problem(
        api.patch(f"{BASE}/{one.click.gk_click_id}/{other.pk}/status?status=Success"),
        404,
        "conversion_not_found",
    )


def test_an_unknown_conversion_is_not_found(api):
    assert_problem(api.patch(f"{BASE}/nope/status?status=Success"), 404, "conversion_not_found")


@pytest.mark.parametrize("status", ["success", "SUCCESS", "Paid", ""])
def test_a_status_in_another_case_or_unknown_is_refused(api, conversion_factory, status):
    conversion = conversion_factory()

    body = assert_problem(
        api.patch(f"{BASE}/{conversion.click.gk_click_id}/status?status={status}"),
        422,
        "invalid_request",
    )

    assert "status" in body["detail"]
    assert not changes_since_recorded().exists()


def test_a_patch_to_the_current_status_changes_nothing(api, conversion_factory):
    conversion = conversion_factory()

    response = api.patch(f"{BASE}/{conversion.click.gk_click_id}/status?status=Pending")

    assert response.status_code == 200
    assert response.json()["status"] == "Pending"
    assert not changes_since_recorded().exists()


def test_is_reward_sent_once_the_success_callback_is_delivered(
    api, conversion_factory, partner_factory
):
    partner = partner_factory(callback_url="https://partner.example/callbacks")
    conversion = conversion_factory(click__partner=partner)
    patched = api.patch(f"{BASE}/{conversion.click.gk_click_id}/status?status=Success")
    assert patched.json()["isRewardSent"] is False
    delivered = CallbackDelivery.objects.filter(conversion_id=conversion.pk).update(
        state=CallbackDelivery.State.DELIVERED
    )
    assert delivered == 1

    [row] = api.get(BASE, today_range()).json()["conversions"]

    assert (row["status"], row["isRewardSent"]) == ("Success", True)


def test_a_key_without_the_write_scope_changes_nothing(operator, conversion_factory):
    _key, token = key_for(operator, scopes=[Scope.CONVERSIONS_READ])
    conversion = conversion_factory()

    assert_problem(
        ApiClient(token).patch(f"{BASE}/{conversion.click.gk_click_id}/status?status=Success"),
        403,
        "missing_scope",
    )
    assert not changes_since_recorded().exists()


def test_a_key_of_a_user_without_change_conversion_status_gets_a_403(
    django_user_model, conversion_factory
):
    viewer = user_with(django_user_model, "viewer", "view_conversion")
    _key, token = key_for(viewer)
    conversion = conversion_factory()

    assert_problem(
        ApiClient(token).patch(f"{BASE}/{conversion.click.gk_click_id}/status?status=Success"),
        403,
        "missing_permission",
    )
    assert not changes_since_recorded().exists()


def test_a_change_over_the_approval_threshold_answers_202_and_changes_nothing(
    api, operator, conversion_factory, settings
):
    settings.IMPORT_APPROVAL_MIN_CONVERSIONS = 1
    conversion = conversion_factory()

    response = api.patch(f"{BASE}/{conversion.click.gk_click_id}/status?status=Success")

    assert response.status_code == 202
    body = response.json()
    job = ImportJob.objects.get()
    assert body["status"] == "Pending"
    assert body["requested_status"] == "Success"
    assert body["change_set_id"] == job.pk
    assert body["change_set_url"].endswith(f"/admin/conversions/importjob/{job.pk}/change/")
    assert "Nothing changed" in body["detail"]
    assert (job.user, job.approval_required, job.state) == (operator, True, "validated")
    conversion.refresh_from_db()
    assert conversion.status == Status.PENDING
    assert not changes_since_recorded().exists()


def test_a_key_that_may_not_write_learns_nothing_of_which_ids_exist(operator):
    _key, token = key_for(operator, scopes=[Scope.CONVERSIONS_READ])

    assert_problem(
        ApiClient(token).patch(f"{BASE}/no-such-click/status?status=Success"),
        403,
        "missing_scope",
    )


def test_a_reason_over_1000_characters_is_refused(api, conversion_factory):
    conversion = conversion_factory()

    assert_problem(
        api.patch(
            f"{BASE}/{conversion.click.gk_click_id}/status?status=Success&reason={'x' * 1001}"
        ),
        422,
        "invalid_request",
    )
    assert not changes_since_recorded().exists()
