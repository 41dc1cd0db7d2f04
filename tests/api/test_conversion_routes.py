"""Our own routes: conversions with cursors and filters, one conversion with its history, a
status change through the change-set engine."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from api.models import Scope
from callbacks.models import CallbackDelivery
from conversions.models import ImportJob, Source, Status
from tests.api.conftest import ApiClient, assert_problem, key_for, user_with
from tests.conversions.factories import changes_since_recorded

pytestmark = pytest.mark.django_db

LIST = "/api/v1/conversions"
GOKART_LIST = "/api/v1/sdk-conversion-system/conversions"


def walk(api, params):
    """Every page of the list: the ids, page by page."""
    pages, cursor = [], None
    while True:
        body = api.get(LIST, {**params, **({"cursor": cursor} if cursor else {})}).json()
        pages.append([item["id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


def test_the_list_walks_every_conversion_newest_first_by_cursor(api, conversion_factory):
    ids = [conversion_factory().pk for _ in range(5)]

    pages = walk(api, {"limit": 2})

    assert pages == [ids[::-1][0:2], ids[::-1][2:4], ids[::-1][4:]]


def test_the_list_filters_by_status_offer_partner_and_created_range(api, conversion_factory):
    old = conversion_factory(created_at=timezone.now() - timedelta(days=3))
    kept = conversion_factory(status=Status.SUCCESS)
    conversion_factory(status=Status.REJECTED)
    conversion_factory()

    def ids(**params):
        return [item["id"] for item in api.get(LIST, params).json()["items"]]

    assert ids(status="success") == [kept.pk]
    assert ids(source="postback", status="success") == [kept.pk]
    assert ids(source="admin") == []
    assert ids(search=kept.click.gk_click_id) == [kept.pk]
    assert ids(search=kept.transaction_id) == [kept.pk]
    assert ids(search=str(kept.pk)) == [kept.pk]
    assert ids(search="nothing-like-it") == []
    assert ids(offer=kept.offer_id) == [kept.pk]
    assert ids(partner=kept.partner_id) == [kept.pk]
    assert ids(created_to=(timezone.now() - timedelta(days=1)).isoformat()) == [old.pk]
    assert old.pk not in ids(created_from=(timezone.now() - timedelta(days=1)).isoformat())


def test_a_conversion_in_the_list_has_our_fields(api, conversion_factory):
    conversion = conversion_factory()

    [item] = api.get(LIST).json()["items"]

    assert item["id"] == conversion.pk
    assert item["gk_click_id"] == conversion.click.gk_click_id
    assert item["status"] == "pending"
    assert item["currency"] == "USD"


@pytest.mark.parametrize("cursor", ["garbage", "eyJiZWZvcmUiOjk5OTl9:1abc:xyz", ""])
def test_a_tampered_cursor_is_a_400_problem(api, conversion_factory, cursor):
    conversion_factory()

    assert_problem(api.get(LIST, {"cursor": cursor}), 400, "invalid_cursor")


def test_a_cursor_with_its_signature_moved_to_another_position_is_refused(api, conversion_factory):
    for _ in range(3):
        conversion_factory()
    cursor = api.get(LIST, {"limit": 1}).json()["next_cursor"]
    payload, _, signature = cursor.partition(":")

    assert_problem(
        api.get(LIST, {"cursor": "eyJiZWZvcmUiOjF9:" + signature}), 400, "invalid_cursor"
    )


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"status": "Success"}])
def test_bad_list_parameters_are_422_problems(api, params):
    assert_problem(api.get(LIST, params), 422, "invalid_request")


def test_one_conversion_with_its_history(api, operator, conversion_factory):
    conversion = conversion_factory()
    api.post(f"{LIST}/{conversion.pk}/status-changes", {"status": "success", "reason": "ok"})

    response = api.get(f"{LIST}/{conversion.pk}")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success"
    newest, first = body["history"]
    assert (newest["old_status"], newest["new_status"]) == ("pending", "success")
    assert newest["user"] == operator.username
    assert newest["reason"] == "ok (API key: billing-bot)"
    assert newest["source"] == Source.API
    assert (first["sequence_number"], first["source"]) == (1, "postback")


def test_an_unknown_conversion_is_a_404_problem(api):
    assert_problem(api.get(f"{LIST}/999999999"), 404, "conversion_not_found")


@pytest.mark.parametrize("conversion_id", [999999999, 2**63 - 1, 2**63, 10**21])
def test_a_status_change_of_an_unknown_conversion_is_a_404_problem(api, conversion_id):
    """Even past PostgreSQL's bigint, which no conversion's id can be (found by schemathesis)."""
    response = api.post(f"{LIST}/{conversion_id}/status-changes", {"status": "rejected"})

    assert_problem(response, 404, "conversion_not_found")
    assert not changes_since_recorded()


def test_a_status_change_applies_as_the_keys_user(api, operator, conversion_factory):
    conversion = conversion_factory()

    response = api.post(
        f"{LIST}/{conversion.pk}/status-changes", {"status": "rejected", "reason": "fraud"}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["changed"] is True
    assert body["conversion"]["status"] == "rejected"
    [row] = changes_since_recorded()
    assert (row.user, row.source, row.reason) == (
        operator,
        Source.API,
        "fraud (API key: billing-bot)",
    )


def test_a_status_change_to_the_current_status_changes_nothing(api, conversion_factory):
    conversion = conversion_factory()

    response = api.post(f"{LIST}/{conversion.pk}/status-changes", {"status": "pending"})

    assert response.json()["changed"] is False
    assert not changes_since_recorded().exists()


def test_a_status_change_over_the_approval_threshold_answers_202(api, conversion_factory, settings):
    settings.IMPORT_APPROVAL_MIN_CONVERSIONS = 1
    conversion = conversion_factory()

    response = api.post(f"{LIST}/{conversion.pk}/status-changes", {"status": "success"})

    assert response.status_code == 202
    assert response.json()["change_set_id"] == ImportJob.objects.get().pk
    conversion.refresh_from_db()
    assert conversion.status == Status.PENDING
    assert not changes_since_recorded().exists()


def test_a_status_change_without_callbacks_records_that_none_is_owed(api, conversion_factory):
    conversion = conversion_factory()

    response = api.post(
        f"{LIST}/{conversion.pk}/status-changes", {"status": "success", "send_callbacks": False}
    )

    assert response.status_code == 200
    [row] = changes_since_recorded()
    assert (row.source, row.callbacks_suppressed, row.callback_owed) == (Source.API, True, False)
    assert not CallbackDelivery.objects.filter(conversion_id=conversion.pk).exists()


@pytest.mark.parametrize(
    "body",
    [
        {"status": "Success"},
        {"status": "success", "colour": "red"},
        {"status": 3},
        {"reason": "no status"},
        {"status": "success", "reason": "x" * 1001},
    ],
)
def test_a_bad_body_is_a_422_problem_and_changes_nothing(api, conversion_factory, body):
    conversion = conversion_factory()

    assert_problem(api.post(f"{LIST}/{conversion.pk}/status-changes", body), 422, "invalid_request")
    assert not changes_since_recorded().exists()


def test_a_malformed_json_body_is_a_400_problem(api, conversion_factory):
    conversion = conversion_factory()

    assert_problem(
        api.post(f"{LIST}/{conversion.pk}/status-changes", "{not json"), 400, "malformed_body"
    )


def test_a_nesting_bomb_is_a_problem_not_a_crash(api, conversion_factory):
    conversion = conversion_factory()

    response = api.post(f"{LIST}/{conversion.pk}/status-changes", "[" * 20_000 + "]" * 20_000)

    assert response.status_code in (400, 422)
    assert response["Content-Type"] == "application/problem+json"
    assert not changes_since_recorded().exists()


def test_a_status_change_needs_the_write_scope_and_permission(
    operator, django_user_model, conversion_factory
):
    conversion = conversion_factory()
    _key, read_only = key_for(operator, scopes=[Scope.CONVERSIONS_READ])
    viewer = user_with(django_user_model, "viewer", "view_conversion")
    _key, viewers = key_for(viewer)
    path = f"{LIST}/{conversion.pk}/status-changes"

    assert_problem(ApiClient(read_only).post(path, {"status": "success"}), 403, "missing_scope")
    assert_problem(ApiClient(viewers).post(path, {"status": "success"}), 403, "missing_permission")
    assert not changes_since_recorded().exists()


def gokart_list(limit):
    today = timezone.now().date()
    dates = {"start_date": str(today - timedelta(days=1)), "end_date": str(today)}
    return GOKART_LIST, {**dates, "page_size": limit}, "conversions"


@pytest.mark.parametrize(
    "page", [lambda limit: (LIST, {"limit": limit}, "items"), gokart_list], ids=["ours", "gokart"]
)
def test_a_page_reads_its_conversions_click_event_and_offer_in_one_query(
    api, conversion_factory, page
):
    """The answers load only the columns they show (``api.selectors``): a field they show but
    do not load would be read once per conversion, a query more for every row of the page."""
    for _ in range(5):
        conversion_factory(status=Status.SUCCESS)

    def queries(limit):
        path, params, items = page(limit)
        with CaptureQueriesContext(connection) as captured:
            response = api.get(path, params)
        assert response.status_code == 200 and len(response.json()[items]) == limit
        return len(captured)

    queries(1)  # the first request records the key's last use
    assert queries(1) == queries(5)
