"""Lockout records can only be cleared by the audited unlock: the admin offers no delete.

A failed-sign-in counter deleted one by one (Django's delete page or its "Delete selected"
action) lifts a lockout with no trace in the sign-in audit (security item 6).
"""

import pytest
from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission

from access.models import SignInEvent, SignInEventKind
from tests.access.conftest import PASSWORD

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/axes/accessattempt/"


@pytest.fixture
def lockout():
    return AccessAttempt.objects.create(
        username="riley",
        ip_address="203.0.113.9",
        user_agent="curl",
        path_info="/admin/login/",
        http_accept="*/*",
        get_data="",
        post_data="",
        failures_since_start=5,
    )


@pytest.fixture
def unlocker_client(client, django_user_model):
    """A staff member who may view and unlock lockouts (axes' delete permission), no more."""
    user = django_user_model.objects.create_user("sam", password=PASSWORD, is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="axes",
            codename__in=["view_accessattempt", "delete_accessattempt"],
        )
    )
    client.force_login(user)
    return client


@pytest.mark.parametrize("who", ["admin_client", "unlocker_client"])
def test_the_delete_page_of_a_lockout_is_forbidden(request, who, lockout):
    client = request.getfixturevalue(who)
    delete_url = f"{CHANGELIST}{lockout.pk}/delete/"

    assert client.get(delete_url).status_code == 403
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    assert AccessAttempt.objects.filter(pk=lockout.pk).exists()


@pytest.mark.parametrize("who", ["admin_client", "unlocker_client"])
def test_delete_selected_is_not_offered_and_cannot_be_posted(request, who, lockout):
    client = request.getfixturevalue(who)

    page = client.get(CHANGELIST).content.decode()
    assert "delete_selected" not in page
    assert "Unlock: forget the failed sign-ins" in page
    # The lockout's own page has no Delete link either
    assert (
        f"{lockout.pk}/delete/"
        not in client.get(f"{CHANGELIST}{lockout.pk}/change/").content.decode()
    )

    client.post(
        CHANGELIST,
        {"action": "delete_selected", ACTION_CHECKBOX_NAME: [lockout.pk], "post": "yes"},
    )
    assert AccessAttempt.objects.filter(pk=lockout.pk).exists()


def test_no_lockout_model_in_the_admin_can_be_deleted(rf, admin_user):
    request = rf.get("/")
    request.user = admin_user
    axes_admins = [
        model_admin
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label == "axes"
    ]
    assert axes_admins
    for model_admin in axes_admins:
        assert not model_admin.has_delete_permission(request)


@pytest.mark.parametrize("who", ["admin_client", "unlocker_client"])
def test_the_audited_unlock_still_clears_them(request, who, lockout):
    client = request.getfixturevalue(who)

    response = client.post(
        CHANGELIST, {"action": "unlock", ACTION_CHECKBOX_NAME: [lockout.pk]}, follow=True
    )

    assert "Unlocked 1 row" in response.content.decode()
    assert not AccessAttempt.objects.exists()
    assert SignInEvent.objects.get(kind=SignInEventKind.UNLOCKED).username == "riley"


def test_without_the_unlock_permission_there_is_no_unlock(client, django_user_model, lockout):
    viewer = django_user_model.objects.create_user("vic", password=PASSWORD, is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_accessattempt"))
    client.force_login(viewer)

    assert "Unlock: forget" not in client.get(CHANGELIST).content.decode()
    client.post(CHANGELIST, {"action": "unlock", ACTION_CHECKBOX_NAME: [lockout.pk]})
    assert AccessAttempt.objects.filter(pk=lockout.pk).exists()
