"""Permissions that explain themselves: a 403 in the admin's layout naming the missing
permission, no permission offered that does nothing, and the Operators and Approvers groups."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from conversions.models import Status

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(client, django_user_model):
    """A staff user who may view conversions, nothing more."""
    user = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_conversion"))
    client.force_login(user)
    return client


def test_a_missing_permission_is_explained_inside_the_admin(viewer, conversion_factory):
    conversion = conversion_factory(status=Status.PENDING)
    url = reverse("admin:conversions_conversion_status", args=[conversion.pk, "success"])
    changelist = reverse("admin:conversions_conversion_changelist")

    response = viewer.get(url, HTTP_REFERER=f"http://testserver{changelist}")

    assert response.status_code == 403
    page = response.content.decode()
    assert "needs the permission “Can change the status of conversions”" in page
    assert '<div id="site-name"><a href="/admin/">GoKart back office</a></div>' in page
    assert 'id="user-tools"' in page  # the admin's header, with the user's links
    assert f'href="http://testserver{changelist}" class="button">Go back</a>' in page
    assert "Operators" in page


def test_no_view_permission_names_the_view_permission(client, django_user_model):
    user = django_user_model.objects.create_user("nobody", password="pw", is_staff=True)
    client.force_login(user)

    response = client.get(reverse("admin:conversions_conversion_changelist"))

    assert response.status_code == 403
    assert "needs the permission “Can view conversion”" in response.content.decode()
    assert 'href="/admin/" class="button">Go back</a>' in response.content.decode()


def test_a_foreign_referer_is_not_offered_as_the_way_back(viewer, conversion_factory):
    conversion = conversion_factory()
    url = reverse("admin:conversions_conversion_status", args=[conversion.pk, "success"])

    page = viewer.get(url, HTTP_REFERER="https://evil.example/").content.decode()

    assert "evil.example" not in page


def test_only_permissions_that_do_something_are_offered():
    offered = set(
        Permission.objects.filter(content_type__app_label="conversions").values_list(
            "codename", flat=True
        )
    )

    for model in ("conversion", "click", "statuschange"):
        assert f"view_{model}" in offered
        for action in ("add", "change", "delete"):
            assert f"{action}_{model}" not in offered
    assert {"change_conversion_status", "approve_large_status_change"} <= offered
    assert not {p for p in offered if p.endswith("_conversiontally")}


def test_operators_and_approvers_groups_exist_with_their_permissions():
    def codenames(name):
        return set(Group.objects.get(name=name).permissions.values_list("codename", flat=True))

    operators = {"view_conversion", "view_click", "view_offer", "change_conversion_status"}
    assert codenames("Operators") == operators
    assert codenames("Approvers") == operators | {"approve_large_status_change"}


def test_an_operator_can_change_a_status_and_import(client, django_user_model, conversion_factory):
    user = django_user_model.objects.create_user("op", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name="Operators"))
    client.force_login(user)
    conversion = conversion_factory(status=Status.PENDING)

    status_page = client.get(
        reverse("admin:conversions_conversion_status", args=[conversion.pk, "success"])
    )
    import_page = client.get(reverse("admin:conversions_conversion_import"))

    assert status_page.status_code == 200
    assert import_page.status_code == 200
