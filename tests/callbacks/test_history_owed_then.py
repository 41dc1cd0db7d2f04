"""The conversion page's history says what each change owed when it was made: its audit row
decides, not the partner's toggles of today."""

import pytest
from django.urls import reverse

from callbacks.models import CallbackDelivery, Partner
from conversions.models import Source, Status
from conversions.services import conversion_status_set
from tests.callbacks.test_admin_history import history_cells

pytestmark = pytest.mark.django_db


def set_status(conversion, status) -> None:
    conversion_status_set(conversion_ids=[conversion.pk], status=status, source=Source.ADMIN)


def history(admin_client, conversion) -> dict[int, str]:
    url = reverse("admin:conversions_conversion_change", args=[conversion.pk])
    return history_cells(admin_client.get(url).text)


def test_a_rejection_made_while_rejected_callbacks_were_on_still_shows_its_callback(
    admin_client, partner_factory, conversion_factory
):
    # Given a rejection made while the partner took Rejected callbacks
    partner = partner_factory(callback_url="https://rewards.example/cb")
    conversion = conversion_factory(click__partner=partner, status=Status.PENDING)
    set_status(conversion, Status.REJECTED)  # 2: owed
    delivery = CallbackDelivery.objects.get(conversion=conversion)
    CallbackDelivery.objects.filter(pk=delivery.pk).update(
        state=CallbackDelivery.State.DELIVERED,
        last_response_status=200,
        delivered_at=delivery.created_at,
    )

    # When the partner turns Rejected callbacks off afterwards
    Partner.objects.filter(pk=partner.pk).update(rejected_callbacks_enabled=False)

    # Then the page still shows the callback that change owed and got
    assert history(admin_client, conversion)[2].startswith("Delivered: HTTP 200 at ")


def test_a_rejection_made_while_rejected_callbacks_were_off_stays_not_owed(
    admin_client, partner_factory, conversion_factory
):
    # Given a rejection made while the partner took no Rejected callbacks
    partner = partner_factory(
        callback_url="https://rewards.example/cb", rejected_callbacks_enabled=False
    )
    conversion = conversion_factory(click__partner=partner, status=Status.PENDING)
    set_status(conversion, Status.REJECTED)  # 2: not owed
    assert not CallbackDelivery.objects.filter(conversion=conversion).exists()

    # When the partner turns Rejected callbacks on afterwards
    Partner.objects.filter(pk=partner.pk).update(rejected_callbacks_enabled=True)

    # Then the page says that change owed nothing, as it did then
    assert history(admin_client, conversion)[2] == (
        "Not owed: the partner took no Rejected callbacks then"
    )
