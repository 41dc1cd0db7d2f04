"""Conversion Management: changing statuses from the row buttons, the change page and the action.

Every change goes through the status-change service with source "admin", the acting user and
the reason typed on the confirmation page; the permission ``change_conversion_status`` gates it.
"""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from conversions.models import Source, Status
from tests.conversions.factories import changes_since_recorded

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:conversions_conversion_changelist")


def status_url(conversion, status):
    return reverse("admin:conversions_conversion_status", args=[conversion.pk, status])


def change_url(conversion):
    return reverse("admin:conversions_conversion_change", args=[conversion.pk])


def shown_messages(response):
    return [str(message) for message in response.context["messages"]]


def staff_user(django_user_model, username, *codenames):
    user = django_user_model.objects.create_user(username, password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def support_agent(django_user_model):
    """Staff who may view conversions and change their statuses, and nothing else."""
    return staff_user(django_user_model, "agent", "view_conversion", "change_conversion_status")


@pytest.fixture
def agent_client(support_agent):
    client = Client()
    client.force_login(support_agent)
    return client


@pytest.fixture
def viewer_client(django_user_model):
    """Staff who may only view conversions."""
    client = Client()
    client.force_login(staff_user(django_user_model, "viewer", "view_conversion"))
    return client


def audit_rows(conversion):
    return list(
        changes_since_recorded()
        .filter(conversion=conversion)
        .values_list("old_status", "new_status", "source", "user__username", "reason")
    )


# -- row buttons ---------------------------------------------------------------------------


def test_each_row_offers_the_other_two_statuses(agent_client, conversion_factory):
    pending = conversion_factory(status=Status.PENDING)

    page = agent_client.get(CHANGELIST).content.decode()

    assert status_url(pending, Status.SUCCESS) in page
    assert status_url(pending, Status.REJECTED) in page
    assert status_url(pending, Status.PENDING) not in page


def test_a_row_button_asks_for_confirmation_before_changing_anything(
    agent_client, conversion_factory
):
    conversion = conversion_factory(status=Status.PENDING)

    response = agent_client.get(status_url(conversion, Status.REJECTED), {"next": CHANGELIST})

    page = response.content.decode()
    assert response.status_code == 200
    assert f"Set conversion {conversion.pk} to Rejected?" in page
    assert 'name="reason"' in page
    conversion.refresh_from_db()
    assert conversion.status == Status.PENDING
    assert audit_rows(conversion) == []


def test_confirming_sets_the_status_with_the_admin_and_reason_in_the_audit(
    agent_client, conversion_factory
):
    conversion = conversion_factory(status=Status.PENDING)
    back_to = f"{CHANGELIST}?status__exact=pending"

    response = agent_client.post(
        status_url(conversion, Status.REJECTED),
        {"reason": "Fraud review #42", "next": back_to},
        follow=True,
    )

    assert response.redirect_chain[-1][0] == back_to
    assert shown_messages(response) == [f"Conversion {conversion.pk} set to Rejected."]
    conversion.refresh_from_db()
    assert conversion.status == Status.REJECTED
    assert conversion.status_source == Source.ADMIN
    assert conversion.status_reason == "Fraud review #42"
    assert audit_rows(conversion) == [
        (Status.PENDING, Status.REJECTED, Source.ADMIN, "agent", "Fraud review #42")
    ]


def test_setting_the_status_a_conversion_already_has_changes_nothing_and_says_so(
    agent_client, conversion_factory
):
    conversion = conversion_factory(status=Status.REJECTED)

    response = agent_client.post(status_url(conversion, Status.REJECTED), {}, follow=True)

    assert shown_messages(response) == [f"Conversion {conversion.pk} was already Rejected."]
    assert audit_rows(conversion) == []


def test_the_return_address_cannot_leave_the_site(agent_client, conversion_factory):
    conversion = conversion_factory()

    response = agent_client.post(
        status_url(conversion, Status.SUCCESS), {"next": "https://evil.example/"}
    )

    assert response.status_code == 302
    assert response["Location"] == CHANGELIST


def test_an_unknown_status_or_conversion_is_not_found(agent_client, conversion_factory):
    conversion = conversion_factory()

    assert agent_client.get(status_url(conversion, "paid")).status_code == 404
    missing = reverse("admin:conversions_conversion_status", args=[10**12, Status.SUCCESS])
    assert agent_client.get(missing).status_code == 404


# -- the change page -------------------------------------------------------------------------


def test_the_change_page_is_read_only_with_buttons_and_the_status_history(
    agent_client, conversion_factory
):
    conversion = conversion_factory(status=Status.PENDING, transaction_id="txn-history")
    agent_client.post(status_url(conversion, Status.SUCCESS), {"reason": "Advertiser approved"})
    agent_client.post(status_url(conversion, Status.REJECTED), {"reason": "Chargeback"})

    page = agent_client.get(change_url(conversion)).content.decode()

    # Nothing tracked is editable: no form inputs for the conversion's fields, no save button.
    for field in ("status", "payout", "revenue", "transaction_id", "offer_event"):
        assert f'name="{field}"' not in page
    assert 'name="_save"' not in page
    assert "txn-history" in page
    # Buttons to the two other statuses, coming back to this page.
    assert status_url(conversion, Status.PENDING) in page
    assert status_url(conversion, Status.SUCCESS) in page
    assert status_url(conversion, Status.REJECTED) not in page
    # The history, newest first, with who and why.
    history = page[page.index('id="status-history"') :]
    assert history.index("Success → Rejected") < history.index("Pending → Success")
    assert "Chargeback" in history and "Advertiser approved" in history
    assert "agent" in history and "Admin" in history


# -- the action ------------------------------------------------------------------------------


def test_the_action_shows_a_confirmation_page_first(agent_client, conversion_factory):
    selected = conversion_factory.create_batch(2, status=Status.PENDING)

    response = agent_client.post(
        CHANGELIST,
        {
            "action": "set_status_action",
            "index": "0",
            "_selected_action": [c.pk for c in selected],
        },
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "Set the status of <strong>2 conversions</strong>" in page
    assert 'name="status"' in page and 'name="reason"' in page
    assert changes_since_recorded().count() == 0


def test_the_action_sets_every_selected_conversion_and_reports_no_ops(
    agent_client, conversion_factory
):
    pending = conversion_factory.create_batch(2, status=Status.PENDING)
    already = conversion_factory(status=Status.REJECTED)
    not_selected = conversion_factory(status=Status.PENDING)

    response = agent_client.post(
        CHANGELIST,
        {
            "action": "set_status_action",
            "index": "0",
            "select_across": "0",
            "_selected_action": [c.pk for c in [*pending, already]],
            "status": Status.REJECTED,
            "reason": "Advertiser dispute",
            "apply": "Yes, set the status",
        },
        follow=True,
    )

    assert shown_messages(response) == [
        "2 conversions set to Rejected. 1 conversion already Rejected, left as is."
    ]
    for conversion in pending:
        assert audit_rows(conversion) == [
            (Status.PENDING, Status.REJECTED, Source.ADMIN, "agent", "Advertiser dispute")
        ]
    assert audit_rows(already) == []
    not_selected.refresh_from_db()
    assert not_selected.status == Status.PENDING


def test_the_action_on_all_matching_conversions_keeps_the_list_filter(
    agent_client, conversion_factory
):
    pending = conversion_factory.create_batch(3, status=Status.PENDING)
    rejected = conversion_factory(status=Status.REJECTED)
    filtered = f"{CHANGELIST}?status__exact=pending"
    chose_all = {
        "action": "set_status_action",
        "index": "0",
        "select_across": "1",
        "_selected_action": [pending[0].pk],  # the page's ticked rows; all matching are meant
    }

    confirmation = agent_client.post(filtered, chose_all).content.decode()
    response = agent_client.post(
        filtered, {**chose_all, "status": Status.SUCCESS, "apply": "Yes"}, follow=True
    )

    assert "Set the status of <strong>3 conversions</strong>" in confirmation
    assert shown_messages(response) == ["3 conversions set to Success."]
    for conversion in pending:
        conversion.refresh_from_db()
        assert conversion.status == Status.SUCCESS
    rejected.refresh_from_db()
    assert rejected.status == Status.REJECTED


def test_the_action_refuses_a_selection_larger_than_its_limit(
    agent_client, conversion_factory, monkeypatch
):
    monkeypatch.setattr("conversions.admin.status_changes.ACTION_MAX_CONVERSIONS", 2)
    conversions = conversion_factory.create_batch(3, status=Status.PENDING)

    response = agent_client.post(
        CHANGELIST,
        {
            "action": "set_status_action",
            "index": "0",
            "select_across": "1",
            "_selected_action": [conversions[0].pk],
            "status": Status.SUCCESS,
            "apply": "Yes",
        },
        follow=True,
    )

    assert "use Import to change them in bulk" in shown_messages(response)[0]
    assert changes_since_recorded().count() == 0


# -- permissions -----------------------------------------------------------------------------


def test_view_only_staff_see_no_buttons_and_no_action(viewer_client, conversion_factory):
    conversion = conversion_factory(status=Status.PENDING)

    changelist = viewer_client.get(CHANGELIST)
    change_page = viewer_client.get(change_url(conversion)).content.decode()

    assert changelist.status_code == 200
    assert "gk-set" not in changelist.content.decode()
    assert "set_status_action" not in changelist.content.decode()
    assert "gk-set" not in change_page
    assert 'id="status-history"' in change_page


def test_view_only_staff_get_403_from_a_forged_status_post(viewer_client, conversion_factory):
    conversion = conversion_factory(status=Status.PENDING)

    confirmation = viewer_client.get(status_url(conversion, Status.REJECTED))
    forged = viewer_client.post(status_url(conversion, Status.REJECTED), {"reason": "forged"})

    assert confirmation.status_code == 403
    assert forged.status_code == 403
    conversion.refresh_from_db()
    assert conversion.status == Status.PENDING
    assert audit_rows(conversion) == []


def test_view_only_staff_cannot_run_the_action_by_forging_it(viewer_client, conversion_factory):
    conversion = conversion_factory(status=Status.PENDING)

    response = viewer_client.post(
        CHANGELIST,
        {
            "action": "set_status_action",
            "index": "0",
            "_selected_action": [conversion.pk],
            "status": Status.REJECTED,
            "apply": "Yes",
        },
    )

    # The action does not exist for them: the POST just shows the list again.
    assert response.status_code == 200
    assert "set_status_action" not in response.content.decode()
    conversion.refresh_from_db()
    assert conversion.status == Status.PENDING
    assert audit_rows(conversion) == []


def test_a_status_post_without_the_csrf_token_is_refused(support_agent, conversion_factory):
    conversion = conversion_factory(status=Status.PENDING)
    client = Client(enforce_csrf_checks=True)
    client.force_login(support_agent)

    response = client.post(status_url(conversion, Status.REJECTED), {"reason": "no token"})

    assert response.status_code == 403
    conversion.refresh_from_db()
    assert conversion.status == Status.PENDING


def test_conversions_cannot_be_added_edited_or_deleted_even_by_a_superuser(
    admin_client, conversion_factory
):
    conversion = conversion_factory(status=Status.PENDING)
    delete_url = reverse("admin:conversions_conversion_delete", args=[conversion.pk])

    assert admin_client.get(reverse("admin:conversions_conversion_add")).status_code == 403
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    edit = admin_client.post(change_url(conversion), {"status": Status.SUCCESS, "payout": "99"})
    assert edit.status_code == 403
    assert "delete_selected" not in admin_client.get(CHANGELIST).content.decode()
    conversion.refresh_from_db()
    assert conversion.status == Status.PENDING
