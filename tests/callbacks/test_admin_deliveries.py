"""The callback deliveries page: list, filters, search, every attempt, and resending.

Deliveries are written by the real status-change service; what the delivery worker would have
recorded about them (attempts, outcome) is set up directly as the "given".
"""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from callbacks.models import CallbackAttempt, CallbackDelivery
from conversions.models import Source, Status
from conversions.services import conversion_status_set

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:callbacks_callbackdelivery_changelist")
State = CallbackDelivery.State


def change_url(delivery):
    return reverse("admin:callbacks_callbackdelivery_change", args=[delivery.pk])


def resend_url(delivery):
    return reverse("admin:callbacks_callbackdelivery_resend", args=[delivery.pk])


@pytest.fixture
def partner(partner_factory):
    return partner_factory(name="Reward Wall", callback_url="https://rewards.example/cb")


@pytest.fixture
def owed_callback(conversion_factory, partner):
    """A conversion set to Success through the service, and the callback that change owes.

    ``outcome`` is what the delivery worker recorded: each attempt as (response status,
    body, error), and the state it ended in.
    """

    def create(*, state=State.PENDING, attempts=(), partner=partner, **conversion_fields):
        conversion = conversion_factory(click__partner=partner, **conversion_fields)
        conversion_status_set(
            conversion_ids=[conversion.pk], status=Status.SUCCESS, source=Source.ADMIN
        )
        delivery = CallbackDelivery.objects.get(conversion=conversion)
        started = timezone.now() - timedelta(hours=1)
        for number, (response_status, body, error) in enumerate(attempts, start=1):
            CallbackAttempt.objects.create(
                delivery=delivery,
                number=number,
                started_at=started + timedelta(minutes=2 * number),
                duration_ms=40 + number,
                response_status=response_status,
                response_body=body,
                error=error,
            )
        last_status, _, last_error = attempts[-1] if attempts else (None, "", "")
        CallbackDelivery.objects.filter(pk=delivery.pk).update(
            state=state,
            attempts=len(attempts),
            last_response_status=last_status,
            last_error=last_error,
            payload={"id": str(delivery.pk), "conversion": {"conversionId": conversion.pk}},
            delivered_at=timezone.now() if state == State.DELIVERED else None,
        )
        delivery.refresh_from_db()
        return delivery

    return create


def listed_deliveries(response):
    """The ids of the deliveries in the list, as the rows' title attributes carry them."""
    assert response.status_code == 200
    return re.findall(r'<code title="([0-9a-f-]{36})">', response.text)


def shown_messages(response):
    return [str(message) for message in response.context["messages"]]


def staff_client(django_user_model, username, *codenames):
    user = django_user_model.objects.create_user(username, password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def viewer_client(django_user_model):
    """Staff who may only view callback deliveries."""
    return staff_client(django_user_model, "viewer", "view_callbackdelivery")


# -- the list -------------------------------------------------------------------------------


def test_the_list_shows_what_an_admin_needs_about_each_callback(admin_client, owed_callback):
    failed = owed_callback(state=State.FAILED, attempts=[(500, "oops", ""), (410, "Gone", "")])

    page = admin_client.get(CHANGELIST).text

    for header in (
        "Id",
        "Conversion",
        "Partner",
        "Seq.",
        "State",
        "Attempts",
        "Next attempt",
        "Last response",
        "Created",
        "Delivered",
    ):
        assert f">{header}<" in page, header
    conversion_url = reverse("admin:conversions_conversion_change", args=[failed.conversion_id])
    assert f'<a href="{conversion_url}">{failed.conversion_id}</a>' in page
    assert "Reward Wall" in page
    assert '<span class="gk-callback gk-callback-failed">Failed</span>' in page
    assert "HTTP 410" in page
    assert re.search(r'<td class="field-attempts">2</td>', page)


def test_a_pending_callback_shows_its_next_attempt_and_errors_read_as_text(
    admin_client, owed_callback
):
    owed_callback(attempts=[(None, "", "Connection refused by rewards.example")])

    page = admin_client.get(CHANGELIST).text

    assert '<span class="gk-callback gk-callback-retrying">Retrying</span>' in page
    assert "Connection refused by rewards.example" in page
    assert not re.search(r'<td class="field-next_attempt">—</td>', page)


def test_filter_by_state(admin_client, owed_callback):
    failed = owed_callback(state=State.FAILED, attempts=[(410, "", "")])
    owed_callback(state=State.DELIVERED, attempts=[(200, "ok", "")])
    owed_callback()

    response = admin_client.get(CHANGELIST, {"state__exact": "failed"})

    assert listed_deliveries(response) == [str(failed.pk)]


def test_filter_by_partner(admin_client, owed_callback, partner_factory):
    other_partner = partner_factory(callback_url="https://other.example/cb")
    theirs = owed_callback(partner=other_partner)
    owed_callback()

    response = admin_client.get(CHANGELIST, {"partner__id__exact": other_partner.pk})

    assert listed_deliveries(response) == [str(theirs.pk)]


def test_filter_by_date(admin_client, owed_callback):
    recent = owed_callback()
    old = owed_callback()
    CallbackDelivery.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(days=40)
    )
    past_week = re.search(r'<a href="([^"]+)">Past 7 days</a>', admin_client.get(CHANGELIST).text)

    response = admin_client.get(CHANGELIST + past_week[1].replace("&amp;", "&"))

    assert listed_deliveries(response) == [str(recent.pk)]


def test_search_by_conversion_event_id(admin_client, owed_callback):
    wanted = owed_callback()
    owed_callback()

    response = admin_client.get(CHANGELIST, {"q": str(wanted.conversion_id)})

    assert listed_deliveries(response) == [str(wanted.pk)]


def test_search_by_gk_click_id_finds_the_callbacks_of_every_event_of_the_click(
    admin_client, owed_callback, click_factory, partner
):
    click = click_factory(partner=partner)
    first = owed_callback(click=click)
    second = owed_callback(click=click)
    owed_callback()

    response = admin_client.get(CHANGELIST, {"q": click.gk_click_id})

    assert sorted(listed_deliveries(response)) == sorted([str(first.pk), str(second.pk)])


def test_search_by_callback_id_the_partner_reports(admin_client, owed_callback):
    wanted = owed_callback()
    owed_callback()

    response = admin_client.get(CHANGELIST, {"q": f"  {wanted.pk}  "})

    assert listed_deliveries(response) == [str(wanted.pk)]


def test_search_matches_whole_values_only(admin_client, owed_callback):
    delivery = owed_callback()

    response = admin_client.get(CHANGELIST, {"q": str(delivery.pk)[:8]})

    assert listed_deliveries(response) == []


def test_the_list_never_counts_or_facets_the_whole_table(admin_client, owed_callback):
    owed_callback()

    response = admin_client.get(CHANGELIST, {"_facets": "1"})

    admin = response.context["cl"].model_admin
    assert admin.show_full_result_count is False
    assert "gk-result-count" in response.text
    assert "(1)" not in response.text  # no facet counts next to the filter choices


def test_the_list_runs_a_bounded_number_of_queries_however_many_rows(
    admin_client, owed_callback, django_assert_max_num_queries
):
    for _ in range(3):
        owed_callback()
    with django_assert_max_num_queries(20) as few:
        admin_client.get(CHANGELIST)
    for _ in range(20):
        owed_callback()

    with django_assert_max_num_queries(len(few.captured_queries)):
        admin_client.get(CHANGELIST)


# -- one delivery: payload and every attempt ------------------------------------------------


def test_the_page_of_a_delivery_shows_the_payload_and_every_attempt(admin_client, owed_callback):
    delivery = owed_callback(
        state=State.FAILED,
        attempts=[
            (None, "", "Read timed out after 10 s"),
            (503, "Service Unavailable", ""),
            (410, "x" * 2000, ""),
        ],
    )

    page = admin_client.get(change_url(delivery)).text

    assert '<pre class="gk-payload">{\n  &quot;id&quot;: &quot;' in page
    assert f"&quot;conversionId&quot;: {delivery.conversion_id}" in page
    rows = re.findall(r'<tr class="form-row[^"]*"[^>]*>(.*?)</tr>', page, re.S)
    assert len(rows) == 3
    assert "Read timed out after 10 s" in rows[0] and "41 ms" in rows[0]
    assert "503" in rows[1] and "Service Unavailable" in rows[1]
    assert "410" in rows[2] and "x" * 2000 in rows[2]  # the whole kept excerpt, folded
    assert "<details" in rows[2]


def test_a_delivery_cannot_be_added_edited_or_deleted(admin_client, owed_callback):
    delivery = owed_callback()

    page = admin_client.get(change_url(delivery)).text

    assert 'name="_save"' not in page
    assert admin_client.get(reverse("admin:callbacks_callbackdelivery_add")).status_code == 403
    delete = reverse("admin:callbacks_callbackdelivery_delete", args=[delivery.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert CallbackDelivery.objects.filter(pk=delivery.pk).exists()


# -- resending ------------------------------------------------------------------------------


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
    admin_client, owed_callback, partner
):
    failed = owed_callback(state=State.FAILED, attempts=[(503, "", "")])
    partner.failed_attempts_in_a_row = 12
    partner.failing_since = timezone.now() - timedelta(hours=3)
    partner.save()

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
