"""A bulk change set through the API from end to end, with a real Celery worker on Redis and a
real partner receiver: created by one key, refused to confirm by it, approved by another user's
key, applied, its callbacks received, reverted; and a key revoked while its upload streams in,
against a live server."""

import http.client
import json
import time
from decimal import Decimal

import pytest
from standardwebhooks.webhooks import Webhook

from api.keys import api_key_revoke
from api.models import ApiKey, Scope
from conversions.models import Conversion, ImportJob, Source, Status, StatusChange
from tests.api.conftest import ApiClient, assert_problem, key_for, user_with
from tests.audit import assert_audit_intact
from tests.callbacks import conftest as callbacks_given

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("callback_settings", "media"),
]
# A real partner receiver and a real Celery worker (fixtures of tests/callbacks).
receiver = callbacks_given.receiver
celery_worker = callbacks_given.celery_worker
callback_settings = callbacks_given.callback_settings
wait_until = callbacks_given.wait_until

BASE = "/api/v1/change-sets"
STATUS = ("view_conversion", "change_conversion_status")


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def state_reached(api, job_id, state, timeout=30.0):
    """Poll the change set (as a client would) until it is in ``state``; its body."""
    deadline = time.monotonic() + timeout
    while True:
        body = api.get(f"{BASE}/{job_id}").json()
        if body["state"] == state:
            return body
        assert body["state"] not in ("invalid", "failed"), body
        assert time.monotonic() < deadline, f"still {body['state']}"
        time.sleep(0.1)


def test_a_change_set_needing_approval_from_one_key_to_another_then_reverted(
    celery_worker, receiver, django_user_model, partner_factory, conversion_factory, settings
):
    settings.IMPORT_APPROVAL_MIN_CONVERSIONS = 3
    partner = partner_factory(callback_url=receiver.url)
    conversions = conversion_factory.create_batch(
        3, click__partner=partner, offer_event__payout=Decimal("4.00")
    )
    asker = user_with(django_user_model, "asker", *STATUS)
    approver = user_with(django_user_model, "approver", *STATUS, "approve_large_status_change")
    _key, asker_token = key_for(asker, name="billing-bot", scopes=[Scope.CHANGE_SETS_WRITE])
    _key, approver_token = key_for(approver, name="fraud-desk", scopes=[Scope.CHANGE_SETS_APPROVE])
    asking, approving = ApiClient(asker_token), ApiClient(approver_token)

    # Given a change set of three conversions, created with the asker's key
    response = asking.post(
        BASE,
        {
            "changes": [
                {"EventId": c.pk, "Status": "Success", "Reason": "paid"} for c in conversions
            ]
        },
    )
    assert response.status_code == 202
    job_id = response.json()["id"]

    # When the worker has checked it, it needs a second person
    body = state_reached(asking, job_id, "validated")
    assert body["approval"]["required"] is True
    assert "it changes 3 conversions" in body["approval"]["reason"]
    assert body["preview"]["will_change"] == {"pending->success": 3}
    assert body["preview"]["money"]["by_partner"][0]["callbacks"] == 3
    assert Decimal(body["preview"]["money"]["transitions"][0]["payout"]) == Decimal("12.00")

    # The asker's own key cannot confirm it; nothing changes
    assert_problem(asking.post(f"{BASE}/{job_id}/confirm", {}), 403, "approval_required")
    assert_problem(asking.post(f"{BASE}/{job_id}/approve", {}), 403, "missing_scope")
    assert Conversion.objects.filter(status=Status.SUCCESS).count() == 0

    # Another user's key approves it; the worker applies it; the partner hears of each
    approved = approving.post(f"{BASE}/{job_id}/approve", {})
    assert approved.status_code == 202
    assert approved.json()["state"] in ("queued", "applying", "applied")
    assert approved.json()["outcome"] is None or approved.json()["state"] == "applied"
    body = state_reached(asking, job_id, "applied")
    assert body["confirmed_by"] == "approver"
    assert body["outcome"]["applied"] == {"pending->success": 3}
    callbacks = receiver.wait_for(3)
    assert sorted(c.json["conversion"]["conversionId"] for c in callbacks) == sorted(
        c.pk for c in conversions
    )
    for callback in callbacks:
        assert callback.json["conversion"]["status"] == "Success"
        Webhook(partner.signing_secret).verify(callback.body, callback.headers)
    rows = StatusChange.objects.filter(import_job_id=job_id)
    assert {(row.source, row.user_id) for row in rows} == {(Source.API, approver.pk)}
    outcomes = asking.get(f"{BASE}/{job_id}/outcomes").json()["items"]
    assert [item["outcome"] for item in outcomes] == ["changed"] * 3

    # Reverted: a change set of its own, approved the same way, puts them back
    reverted = asking.post(f"{BASE}/{job_id}/revert", {})
    assert reverted.status_code == 202
    revert_id = reverted.json()["id"]
    assert reverted.json()["reverts"] == job_id
    assert state_reached(asking, revert_id, "validated")["approval"]["required"] is True
    assert approving.post(f"{BASE}/{revert_id}/approve", {}).status_code == 202
    state_reached(asking, revert_id, "applied")
    assert asking.get(f"{BASE}/{job_id}").json()["reverted_by"] == revert_id
    receiver.wait_for(6)
    assert set(Conversion.objects.values_list("status", flat=True)) == {Status.PENDING}
    assert_audit_intact()


def test_a_dry_run_through_the_worker_is_checked_and_never_confirmable(
    celery_worker, django_user_model, conversion_factory
):
    conversion = conversion_factory()
    _key, token = key_for(user_with(django_user_model, "asker", *STATUS))
    api = ApiClient(token)

    response = api.post(
        BASE, {"changes": [{"EventId": conversion.pk, "Status": "Rejected"}], "dry_run": True}
    )

    body = state_reached(api, response.json()["id"], "checked")
    assert body["preview"]["will_change"] == {"pending->rejected": 1}
    assert_problem(api.post(f"{BASE}/{body['id']}/confirm", {}), 409, "invalid_state")
    conversion.refresh_from_db()
    assert conversion.status == Status.PENDING


def test_a_key_revoked_while_its_upload_streams_in_creates_nothing(
    live_server, django_user_model, conversion_factory
):
    conversion = conversion_factory()
    user = user_with(django_user_model, "asker", *STATUS)
    api_key, token = key_for(user)
    boundary = "gokart-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="statuses.csv"\r\nContent-Type: text/csv\r\n\r\nEventId,Status\r\n'
    ).encode()
    rows = f"{conversion.pk},Success\r\n".encode() * 2000
    tail = f"\r\n--{boundary}--\r\n".encode()
    host, port = live_server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.putrequest("POST", f"{BASE}/upload")
    connection.putheader("Authorization", f"ApiToken {token}")
    connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    connection.putheader("Content-Length", str(len(head) + len(rows) + len(tail)))
    connection.endheaders()

    # The server has taken the key (its last use is written) and waits for the rest of the body
    connection.send(head + rows[:1000])
    wait_until(lambda: ApiKey.objects.get(pk=api_key.pk).last_used_at is not None)
    api_key_revoke(api_key=api_key)
    connection.send(rows[1000:] + tail)
    response = connection.getresponse()

    assert response.status == 401
    assert response.getheader("Content-Type") == "application/problem+json"
    assert json.loads(response.read())["code"] == "revoked_key"
    assert not ImportJob.objects.exists()
