"""Bulk change sets through the API, checked as the worker checks them (``import_job_validate``
called where the worker would run it): created from JSON or a file, previewed, paged through,
confirmed, a dry run, bad input. The whole path with a real worker and receiver is in
``test_change_sets_flow.py``."""

import json
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from api import bodies as api_bodies
from api.keys import api_key_revoke
from api.models import Scope
from conversions.change_sets import services as change_sets
from conversions.change_sets import tasks
from conversions.models import ImportJob, Source, Status, StatusChange
from tests.api.conftest import ApiClient, assert_problem, key_for, user_with
from tests.audit import assert_audit_intact

pytestmark = pytest.mark.django_db

BASE = "/api/v1/change-sets"
STATUS = ("view_conversion", "change_conversion_status")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def asker(django_user_model):
    return user_with(django_user_model, "asker", *STATUS)


@pytest.fixture
def api(asker):
    _key, token = key_for(asker, name="reconciler")
    return ApiClient(token)


def created(api, changes, **options):
    response = api.post(BASE, {"changes": changes, **options})
    assert response.status_code == 202, response.content
    return response


def checked(response):
    """The change set a 202 named, checked as the worker would."""
    job = ImportJob.objects.get(pk=response.json()["id"])
    change_sets.import_job_validate(import_job=job)
    return job


def test_a_json_change_set_answers_202_at_once_with_its_url(api, conversion_factory):
    conversion = conversion_factory()

    response = created(api, [{"EventId": conversion.pk, "Status": "Success"}])

    body = response.json()
    job = ImportJob.objects.get(pk=body["id"])
    assert response["Location"] == f"http://testserver{BASE}/{job.pk}"
    assert body["url"] == response["Location"]
    assert body["page_url"].endswith(f"/admin/conversions/importjob/{job.pk}/change/")
    assert (body["state"], body["kind"], body["preview"], body["outcome"]) == (
        "uploaded",
        "api",
        None,
        None,
    )
    assert body["origin"].startswith("Management API, key reconciler")
    assert (job.kind, job.user.username, job.file_format) == ("api", "asker", "csv")


def test_the_preview_counts_every_kind_of_row_and_the_money(api, conversion_factory):
    pays = conversion_factory(offer_event__payout=Decimal("12.50"))
    already = conversion_factory(status=Status.SUCCESS)
    clash = conversion_factory()
    changes = [
        {"EventId": pays.pk, "Status": "success", "Reason": "reconciled"},
        {"EventId": already.pk, "Status": "SUCCESS"},
        {"EventId": 987654321, "Status": "Rejected"},
        {"EventId": pays.pk + already.pk + clash.pk, "Status": "maybe"},
        {"EventId": clash.pk, "Status": "Success"},
        {"gk_click_id": clash.click.gk_click_id, "Status": "Rejected"},
    ]

    job = checked(created(api, changes))
    body = api.get(f"{BASE}/{job.pk}").json()

    assert body["state"] == "validated"
    preview = body["preview"]
    assert preview["will_change"] == {"pending->success": 1}
    assert (preview["unchanged"], preview["not_found"], preview["invalid"]) == (1, 1, 1)
    assert (preview["conflicting"], preview["rejected_rows"]) == (2, 4)
    assert [error["row"] for error in preview["first_errors"]] == [4, 5, 6, 7]
    assert "Status" in preview["first_errors"][1]["message"]
    [line] = preview["money"]["transitions"]
    assert (line["label"], line["conversions"], Decimal(line["payout"])) == (
        "pending->success",
        1,
        Decimal("12.50"),
    )
    assert body["approval"] == {"required": False, "reason": ""}
    assert body["progress"]["percent"] == 100


def test_the_outcomes_page_through_rejected_rows_then_conversions(api, conversion_factory):
    one, two, three = conversion_factory.create_batch(3)
    changes = [
        {"EventId": one.pk, "Status": "Success", "Reason": "reconciled"},
        {"EventId": 999999991, "Status": "Success"},
        {"EventId": two.pk, "Status": "Rejected"},
        {"EventId": 999999992, "Status": "Success"},
        {"gk_click_id": three.click.gk_click_id, "Status": "Pending"},
    ]
    job = checked(created(api, changes))

    pages, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = api.get(f"{BASE}/{job.pk}/outcomes", params).json()
        pages.append(
            [(item["outcome"], item["row"] or item["conversion_id"]) for item in body["items"]]
        )
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert pages == [
        [("rejected", 3), ("rejected", 5)],
        [("will_change", one.pk), ("will_change", two.pk)],
        [("unchanged", three.pk)],
    ]
    response = Client().get(
        f"{BASE}/{job.pk}/outcomes.csv", headers={"Authorization": api.authorization}
    )
    csv_text = b"".join(response.streaming_content).decode()
    lines = csv_text.lstrip("\ufeff").splitlines()
    assert lines[0] == (
        "Outcome,Row,EventId,gk_click_id,Old status,New status,Reason,Message,New payout,"
        "New revenue"
    )
    assert len(lines) == 1 + 5
    assert lines[3].startswith(f"will_change,,{one.pk},{one.click.gk_click_id},pending,success")


def test_the_outcomes_csv_escapes_formulas(api, conversion_factory):
    conversion = conversion_factory()
    job = checked(created(api, [{"EventId": conversion.pk, "Status": "=1+1", "Reason": "@x"}]))

    response = Client().get(
        f"{BASE}/{job.pk}/outcomes.csv", headers={"Authorization": api.authorization}
    )

    text = b"".join(response.streaming_content).decode()
    assert "'=1+1" in text and "'@x" in text
    assert ",=" not in text and ",@" not in text


def test_outcomes_after_the_apply_say_what_changed_and_are_kept(api, conversion_factory):
    changed = conversion_factory()
    unchanged = conversion_factory(status=Status.REJECTED)
    job = checked(
        created(
            api,
            [
                {"EventId": changed.pk, "Status": "Success"},
                {"EventId": unchanged.pk, "Status": "Rejected"},
                {"EventId": 123, "Status": "Rejected"},
            ],
        )
    )
    assert api.post(f"{BASE}/{job.pk}/confirm", {}).status_code == 202
    change_sets.import_job_apply(import_job=job)

    body = api.get(f"{BASE}/{job.pk}").json()
    items = api.get(f"{BASE}/{job.pk}/outcomes").json()["items"]

    assert body["state"] == "applied"
    assert body["outcome"]["applied"] == {"pending->success": 1}
    assert [(item["outcome"], item["old_status"], item["new_status"]) for item in items] == [
        ("rejected", "", "Rejected"),
        ("changed", "pending", "success"),
        ("unchanged", "rejected", "rejected"),
    ]
    assert "No conversion has EventId 123" in items[0]["message"]
    row = StatusChange.objects.get(conversion_id=changed.pk, sequence_number=2)
    assert (row.source, row.user.username, row.import_job_id) == (Source.API, "asker", job.pk)


def test_a_json_change_set_sets_amounts_with_or_without_a_status(api, conversion_factory):
    raised = conversion_factory(status=Status.SUCCESS, offer_event__payout=Decimal("4"))
    paid = conversion_factory(offer_event__payout=Decimal("4"), offer_event__revenue=Decimal("6"))
    job = checked(
        created(
            api,
            [
                {"EventId": raised.pk, "Payout": "5.25"},
                {"EventId": paid.pk, "Status": "Success", "Revenue": "7"},
                {"EventId": paid.pk, "Payout": "1,5"},
            ],
        )
    )

    preview = api.get(f"{BASE}/{job.pk}").json()["preview"]
    assert preview["will_change"] == {"pending->success": 1, "success->success": 1}
    assert preview["amounts"] == 2
    (line,) = preview["money"]["amounts"]
    assert (line["payout_before"], line["payout_after"]) == ("8.0000", "9.2500")
    assert [error["message"] for error in preview["first_errors"]] == [
        "Payout “1,5” has a comma as the decimal point; use a point, like 1234.50."
    ]
    assert api.post(f"{BASE}/{job.pk}/confirm", {}).status_code == 202
    change_sets.import_job_apply(import_job=job)
    raised.refresh_from_db()
    paid.refresh_from_db()

    assert (raised.status, raised.payout) == (Status.SUCCESS, Decimal("5.25"))
    assert (paid.status, paid.payout, paid.revenue) == (Status.SUCCESS, Decimal("4"), Decimal("7"))
    items = api.get(f"{BASE}/{job.pk}/outcomes").json()["items"]
    assert [(item["outcome"], item["new_payout"], item["new_revenue"]) for item in items] == [
        ("rejected", "", ""),
        ("changed", "5.25", ""),
        ("changed", "", "7.00"),
    ]
    assert_audit_intact()


def test_a_change_asking_for_nothing_is_a_rejected_row_named_in_the_outcomes(
    api, conversion_factory
):
    conversion = conversion_factory()
    job = checked(created(api, [{"EventId": conversion.pk}]))

    items = api.get(f"{BASE}/{job.pk}/outcomes").json()["items"]

    assert [(item["outcome"], item["message"]) for item in items] == [
        ("rejected", "Status is empty; use Pending, Success, Rejected.")
    ]


def test_a_dry_run_leaves_nothing_to_confirm(api, conversion_factory):
    conversion = conversion_factory()
    response = created(api, [{"EventId": conversion.pk, "Status": "Success"}], dry_run=True)
    job_id = response.json()["id"]

    tasks.import_job_dry_run_task(job_id)

    body = api.get(f"{BASE}/{job_id}").json()
    assert body["state"] == "checked"
    assert body["preview"]["will_change"] == {"pending->success": 1}
    assert api.get(f"{BASE}/{job_id}/outcomes").json()["items"][0]["outcome"] == "will_change"
    assert_problem(api.post(f"{BASE}/{job_id}/confirm", {}), 409, "invalid_state")
    conversion.refresh_from_db()
    assert conversion.status == Status.PENDING


@pytest.mark.parametrize(
    "body",
    [
        {"changes": [{"EventId": 1, "Status": "Success", "Colour": "red"}]},
        {"changes": [{"EventId": 1, "Status": "Success"}], "approve": True},
        {"changes": []},
        {"changes": [{"EventId": [1], "Status": "Success"}]},
        {"changes": "EventId,Status"},
    ],
)
def test_a_bad_body_is_a_422_problem_and_creates_nothing(api, body):
    problem = assert_problem(api.post(BASE, body), 422, "invalid_request")

    assert problem["errors"][0]["loc"][:2] == ["body", "body"]
    assert not ImportJob.objects.exists()


def test_unknown_fields_are_named_in_the_problem(api):
    problem = assert_problem(
        api.post(BASE, {"changes": [{"EventId": 1, "Status": "Success", "Colour": "red"}]}),
        422,
        "invalid_request",
    )

    assert problem["errors"][0]["loc"] == ["body", "body", "changes", 0, "Colour"]


def test_more_than_100000_changes_is_refused(api):
    changes = [{"EventId": n, "Status": "Success"} for n in range(1, 100_002)]

    problem = assert_problem(api.post(BASE, {"changes": changes}), 422, "invalid_request")

    assert "100000" in problem["detail"]
    assert not ImportJob.objects.exists()


def test_a_json_body_over_the_limit_is_refused_before_it_is_read(api, monkeypatch):
    monkeypatch.setattr(api_bodies, "CHANGE_SET_MAX_BODY_BYTES", 2000)
    changes = [{"EventId": n, "Status": "Success"} for n in range(1, 200)]

    problem = assert_problem(api.post(BASE, {"changes": changes}), 413, "body_too_large")

    assert "2000 bytes" in problem["detail"]
    assert not ImportJob.objects.exists()


def test_a_json_body_over_djangos_form_cap_is_read_with_an_idempotency_key(
    api, conversion_factory, settings
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    conversion = conversion_factory()
    changes = [{"EventId": conversion.pk, "Status": "Success", "Reason": "x" * 100}] * 200
    payload = json.dumps({"changes": changes})
    assert len(payload) > 20_000

    def send():
        return api.client.post(
            BASE,
            payload,
            content_type="application/json",
            headers={"Authorization": api.authorization, "Idempotency-Key": "bulk-1"},
        )

    first, again = send(), send()

    assert (first.status_code, again.status_code) == (202, 202)
    assert first.json()["id"] == again.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert ImportJob.objects.count() == 1


def test_a_file_upload_is_a_change_set_like_the_json_one(api, conversion_factory, tmp_path):
    conversion = conversion_factory()
    path = tmp_path / "statuses.csv"
    path.write_text(f"EventId,Status\n{conversion.pk},Rejected\n")

    with path.open("rb") as upload:
        response = api.client.post(
            f"{BASE}/upload",
            {"file": upload, "send_callbacks": "false"},
            headers={"Authorization": api.authorization},
        )

    assert response.status_code == 202, response.content
    job = checked(response)
    assert (job.kind, job.send_callbacks) == ("api", False)
    assert job.original_name == "statuses.csv (sent with API key reconciler)"
    body = api.get(f"{BASE}/{job.pk}").json()
    assert body["preview"]["will_change"] == {"pending->rejected": 1}
    assert body["preview"]["callbacks"] == 0


def test_an_upload_with_an_idempotency_key_is_created_once(
    api, conversion_factory, settings, tmp_path
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    conversion = conversion_factory()
    path = tmp_path / "statuses.csv"
    path.write_text("EventId,Status,Reason\n" + f"{conversion.pk},Success,{'x' * 50}\n" * 100)

    def send():
        with path.open("rb") as upload:
            return api.client.post(
                f"{BASE}/upload",
                {"file": upload},
                headers={"Authorization": api.authorization, "Idempotency-Key": "file-1"},
            )

    first, again = send(), send()

    assert (first.status_code, again.status_code) == (202, 202)
    assert first.json()["id"] == again.json()["id"]
    assert ImportJob.objects.count() == 1


def test_an_upload_over_the_import_limit_gets_the_imports_message(api, settings, tmp_path):
    settings.IMPORT_MAX_UPLOAD_BYTES = 1000
    path = tmp_path / "big.csv"
    path.write_text("EventId,Status\n" + "1,Success\n" * 500)

    with path.open("rb") as upload:
        response = api.client.post(
            f"{BASE}/upload", {"file": upload}, headers={"Authorization": api.authorization}
        )

    problem = assert_problem(response, 413, "body_too_large")
    assert "files of at most" in problem["detail"]
    assert not ImportJob.objects.exists()


def test_an_unusable_file_is_a_422_naming_why(api, tmp_path):
    path = tmp_path / "statuses.xlsx"
    path.write_text("EventId,Status\n1,Success\n")

    with path.open("rb") as upload:
        response = api.client.post(
            f"{BASE}/upload", {"file": upload}, headers={"Authorization": api.authorization}
        )

    assert_problem(response, 422, "unusable_file")
    assert not ImportJob.objects.exists()


def test_a_file_sent_as_a_form_value_is_refused_naming_why(api):
    response = api.client.post(
        f"{BASE}/upload",
        {"file": "EventId,Status\n1,Success\n"},
        headers={"Authorization": api.authorization},
    )

    problem = assert_problem(response, 422, "unusable_file")
    assert "as a file part with its file name" in problem["detail"]
    assert not ImportJob.objects.exists()


def test_scopes_and_permissions(django_user_model, asker, conversion_factory):
    conversion = conversion_factory()
    _key, readonly = key_for(asker, scopes=[Scope.CONVERSIONS_READ, Scope.CONVERSIONS_WRITE])
    no_permission = user_with(django_user_model, "viewer", "view_conversion")
    _key, powerless = key_for(no_permission)
    body = {"changes": [{"EventId": conversion.pk, "Status": "Success"}]}

    assert_problem(ApiClient(readonly).post(BASE, body), 403, "missing_scope")
    assert_problem(ApiClient(powerless).post(BASE, body), 403, "missing_permission")
    assert not ImportJob.objects.exists()


def test_the_creators_own_key_never_approves(
    api, asker, settings, conversion_factory, django_user_model
):
    settings.IMPORT_APPROVAL_MIN_CONVERSIONS = 1
    asker.user_permissions.add(Permission.objects.get(codename="approve_large_status_change"))
    conversion = conversion_factory()
    job = checked(created(api, [{"EventId": conversion.pk, "Status": "Success"}]))

    refused = assert_problem(api.post(f"{BASE}/{job.pk}/confirm", {}), 403, "approval_required")
    own = assert_problem(api.post(f"{BASE}/{job.pk}/approve", {}), 403, "approval_required")

    assert "not the one who asked for it" in own["detail"]
    assert refused["approval_reason"].startswith("it changes 1 conversions")
    job.refresh_from_db()
    assert (job.state, job.confirmed_at) == ("validated", None)


def test_approving_what_needs_no_approval_is_a_409(api, conversion_factory, django_user_model):
    conversion = conversion_factory()
    job = checked(created(api, [{"EventId": conversion.pk, "Status": "Success"}]))
    approver = user_with(django_user_model, "approver", *STATUS, "approve_large_status_change")
    _key, token = key_for(approver, scopes=[Scope.CHANGE_SETS_APPROVE])

    assert_problem(
        ApiClient(token).post(f"{BASE}/{job.pk}/approve", {}), 409, "approval_not_required"
    )
    assert ApiClient(token).get(f"{BASE}/{job.pk}").status_code == 200


def test_a_revoked_key_confirms_nothing(api, asker, conversion_factory):
    conversion = conversion_factory()
    job = checked(created(api, [{"EventId": conversion.pk, "Status": "Success"}]))
    api_key = asker.api_keys.get()

    api_key_revoke(api_key=api_key)

    assert_problem(api.post(f"{BASE}/{job.pk}/confirm", {}), 401, "revoked_key")
    job.refresh_from_db()
    assert job.state == "validated"


def test_unknown_change_sets_and_tampered_cursors(api, conversion_factory):
    conversion = conversion_factory()
    job = checked(created(api, [{"EventId": conversion.pk, "Status": "Success"}]))

    assert_problem(api.get(f"{BASE}/999999"), 404, "change_set_not_found")
    assert_problem(api.get(f"{BASE}/{job.pk}/outcomes", {"cursor": "abc"}), 400, "invalid_cursor")
    assert_problem(api.post(f"{BASE}/{job.pk}/revert", {}), 409, "invalid_state")


def test_the_admin_shows_an_api_change_set_like_an_upload(api, admin_client, conversion_factory):
    conversion = conversion_factory()
    job = checked(created(api, [{"EventId": conversion.pk, "Status": "Success"}]))

    page = admin_client.get(f"/admin/conversions/importjob/{job.pk}/change/")
    listing = admin_client.get("/admin/conversions/importjob/")

    assert page.status_code == 200
    assert "1 change sent as JSON with API key reconciler" in page.content.decode()
    assert "1 change sent as JSON with API key reconciler" in listing.content.decode()


def test_an_approver_without_the_approve_permission_is_refused(
    django_user_model, conversion_factory, settings
):
    settings.IMPORT_APPROVAL_MIN_CONVERSIONS = 1
    conversion = conversion_factory()
    asker = user_with(django_user_model, "asker", *STATUS)
    colleague = user_with(django_user_model, "colleague", *STATUS)
    _key, asker_token = key_for(asker)
    _key, colleague_token = key_for(colleague, scopes=[Scope.CHANGE_SETS_APPROVE])
    response = ApiClient(asker_token).post(
        BASE, {"changes": [{"EventId": conversion.pk, "Status": "Success"}]}
    )

    assert_problem(
        ApiClient(colleague_token).post(f"{BASE}/{response.json()['id']}/approve", {}),
        403,
        "missing_permission",
    )


def test_the_outcomes_of_a_file_with_the_advertisers_ids_list_its_rejected_rows(
    api, conversion_factory, tmp_path
):
    # Its report has TransactionId and OfferId after Reason: eight columns, not six.
    conversion = conversion_factory(transaction_id="ORD-7")
    path = tmp_path / "ids.csv"
    path.write_text(
        "TransactionId,OfferId,Status,Reason\n"
        f"ORD-7,{conversion.offer_id},Rejected,chargeback\n"
        f"ORD-404,{conversion.offer_id},Rejected,chargeback\n"
    )
    with path.open("rb") as upload:
        response = api.client.post(
            f"{BASE}/upload", {"file": upload}, headers={"Authorization": api.authorization}
        )
    job = checked(response)

    items = api.get(f"{BASE}/{job.pk}/outcomes").json()["items"]

    assert [(o["outcome"], o["row"], o["new_status"], o["reason"]) for o in items] == [
        ("rejected", 3, "Rejected", "chargeback"),
        ("will_change", None, "rejected", "chargeback"),
    ]
    assert items[0]["message"] == (
        f"No conversion of offer {conversion.offer_id} has TransactionId ORD-404."
    )
