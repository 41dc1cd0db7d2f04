"""Resending from the deliveries page: the action and the button, each after a confirmation
that says how many and whether the partner's endpoint is still failing; permissions and CSRF."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from callbacks.models import CallbackDelivery
from tests.callbacks.deliveries_given import (
    CHANGELIST,
    change_url,
    resend_url,
    shown_messages,
    staff_client,
)

pytestmark = pytest.mark.django_db

State = CallbackDelivery.State


def test_resend_action_makes_failed_and_delivered_callbacks_due_again_with_the_same_id(
    admin_client, owed_callback
):
    # Given a failed, a delivered and a pending callback
    failed = owed_callback(state=State.FAILED, attempts=[(410, "Gone", "")])
    delivered = owed_callback(state=State.DELIVERED, attempts=[(200, "ok", "")])
    pending = owed_callback(attempts=[(500, "", "")])
    pending_due = pending.next_attempt_at

    selection = {
        "action": "resend_action",
        "_selected_action": [str(failed.pk), str(delivered.pk), str(pending.pk)],
    }

    # When an admin resends all three, they are first asked to confirm how many
    confirmation = admin_client.post(CHANGELIST, selection)
    assert confirmation.status_code == 200
    assert "2 callbacks</strong> will be sent again" in confirmation.text
    assert "1 selected callback already on its way" in confirmation.text
    failed.refresh_from_db()
    assert failed.state == State.FAILED
    response = admin_client.post(CHANGELIST, {**selection, "post": "yes"}, follow=True)

    # Then the failed and delivered ones are pending again, due now, same ids, history kept
    assert shown_messages(response) == [
        "2 callbacks queued for resending (same id, new attempt). "
        "1 callback already on their way, left as is."
    ]
    for delivery in (failed, delivered):
        delivery.refresh_from_db()
        assert delivery.state == State.PENDING
        assert delivery.next_attempt_at <= timezone.now()
        assert delivery.attempt_set.count() == 1
    # And the pending one keeps its schedule
    pending.refresh_from_db()
    assert pending.next_attempt_at == pending_due
    assert CallbackDelivery.objects.count() == 3


def test_resending_only_pending_callbacks_says_nothing_was_resent(admin_client, owed_callback):
    pending = owed_callback()

    response = admin_client.post(
        CHANGELIST, {"action": "resend_action", "_selected_action": [str(pending.pk)]}, follow=True
    )

    assert "Nothing resent" in shown_messages(response)[0]


def test_the_resend_button_on_a_failed_callback(admin_client, owed_callback):
    failed = owed_callback(state=State.FAILED, attempts=[(410, "Gone", "")])
    page = admin_client.get(change_url(failed)).text
    assert f'href="{resend_url(failed)}"' in page
    confirmation = admin_client.get(resend_url(failed))
    assert "1 callback</strong> will be sent again" in confirmation.text

    response = admin_client.post(resend_url(failed), follow=True)

    assert response.redirect_chain[-1][0] == change_url(failed)
    assert shown_messages(response) == [
        f"Callback {failed.pk} queued for resending: attempt 2 with the same id."
    ]
    failed.refresh_from_db()
    assert failed.state == State.PENDING


def test_a_pending_callback_has_no_resend_button(admin_client, owed_callback):
    pending = owed_callback()

    assert resend_url(pending) not in admin_client.get(change_url(pending)).text
    response = admin_client.post(resend_url(pending), follow=True)
    assert "already on its way" in shown_messages(response)[0]


def test_the_resend_url_confirms_on_a_get_and_changes_nothing(admin_client, owed_callback):
    failed = owed_callback(state=State.FAILED, attempts=[(410, "", "")])

    assert admin_client.get(resend_url(failed)).status_code == 200
    failed.refresh_from_db()
    assert failed.state == State.FAILED


def test_the_confirmation_says_when_the_partner_is_still_failing(
    admin_client, owed_callback, reward_wall
):
    failed = owed_callback(state=State.FAILED, attempts=[(503, "", "")])
    reward_wall.failed_attempts_in_a_row = 12
    reward_wall.failing_since = timezone.now() - timedelta(hours=3)
    reward_wall.save()

    page = admin_client.get(resend_url(failed)).text

    assert "Reward Wall&#x27;s endpoint is still failing: 12 attempts failed in a row" in page


def test_view_only_staff_see_no_resend_and_a_forged_post_is_forbidden(viewer_client, owed_callback):
    # Given a failed callback and staff who may only view callbacks
    failed = owed_callback(state=State.FAILED, attempts=[(410, "", "")])

    # Then they see it, without the action or the button
    listing = viewer_client.get(CHANGELIST)
    assert listing.status_code == 200
    assert "resend_action" not in listing.text
    page = viewer_client.get(change_url(failed))
    assert page.status_code == 200
    assert resend_url(failed) not in page.text
    # And forged posts of either are refused
    forged_action = viewer_client.post(
        CHANGELIST, {"action": "resend_action", "_selected_action": [str(failed.pk)]}
    )
    assert forged_action.status_code == 403
    assert viewer_client.post(resend_url(failed)).status_code == 403
    failed.refresh_from_db()
    assert failed.state == State.FAILED


def test_resending_needs_a_csrf_token(admin_user, owed_callback):
    failed = owed_callback(state=State.FAILED, attempts=[(410, "", "")])
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)

    assert client.post(resend_url(failed)).status_code == 403
    forged_action = client.post(
        CHANGELIST, {"action": "resend_action", "_selected_action": [str(failed.pk)]}
    )
    assert forged_action.status_code == 403
    failed.refresh_from_db()
    assert failed.state == State.FAILED


def test_staff_with_the_change_permission_may_resend(django_user_model, owed_callback):
    failed = owed_callback(state=State.FAILED, attempts=[(410, "", "")])
    support = staff_client(
        django_user_model, "support", "view_callbackdelivery", "change_callbackdelivery"
    )

    response = support.post(
        CHANGELIST,
        {"action": "resend_action", "_selected_action": [str(failed.pk)], "post": "yes"},
    )

    assert response.status_code == 302
    failed.refresh_from_db()
    assert failed.state == State.PENDING
