"""Conversion Management writes its rows itself (``ConversionChangeList.result_rows``): the
cells must be exactly the ones Django's ``items_for_result`` writes, on a filtered list (the
row links carry the filters), with text that needs escaping, an empty sub id and callback
states."""

import pytest
from django.contrib import admin
from django.contrib.admin.templatetags.admin_list import results
from django.urls import reverse

from callbacks.models import CallbackDelivery
from conversions.models import Conversion, Source, Status
from conversions.services import conversion_status_set

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:conversions_conversion_changelist")


def test_the_rows_are_the_cells_django_would_write(
    admin_client, admin_user, conversion_factory, click_factory, partner_factory
):
    partner = partner_factory(name='<b>Rock & "Roll"</b>', callback_url="http://127.0.0.1:9/cb")
    quiet = click_factory(partner=partner, sub_id="")
    escaped = click_factory(partner=partner, sub_id="<script>alert(1)</script>")
    owed = conversion_factory(click=quiet)
    conversion_factory(click=escaped, payout="0.125")
    conversion_factory(click=click_factory(partner=partner))
    # A change that owes the partner a callback: its row shows the delivery's state.
    conversion_status_set(
        conversion_ids=[owed.pk], status=Status.SUCCESS, source=Source.ADMIN, user=admin_user
    )
    assert CallbackDelivery.objects.filter(conversion=owed).exists()

    response = admin_client.get(CHANGELIST, {"partner__id__exact": partner.pk, "o": "-1", "q": ""})

    assert response.status_code == 200
    changelist = response.context["cl"]
    ours = [list(row) for row in changelist.result_rows()]
    djangos = [list(row) for row in results(changelist)]
    assert len(ours) == 3
    assert ours == djangos
    # And the page shows them: the link with its filters, the escaped text.
    page = response.text
    assert f'<a href="/admin/conversions/conversion/{owed.pk}/change/?_changelist_filters=' in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page
    assert "&lt;b&gt;Rock &amp; &quot;Roll&quot;&lt;/b&gt;" in page
    for row in ours:
        assert "".join(row) in page


def test_a_plain_model_admin_of_conversions_still_gets_djangos_rows(
    rf, admin_user, conversion_factory
):
    # The template is found by the model's path, whatever the admin site: a stock ModelAdmin
    # (as bench/changelist.py compares against) has Django's ChangeList and Django's rows.
    shown = conversion_factory()
    site = admin.AdminSite(name="plain")
    site.register(Conversion, admin.ModelAdmin)
    request = rf.get("/plain/conversions/conversion/")
    request.user = admin_user

    response = site._registry[Conversion].changelist_view(request)
    response.render()

    assert response.status_code == 200
    assert f'<th class="field-__str__"><a href="/admin/conversions/conversion/{shown.pk}/' in (
        response.content.decode()
    )
