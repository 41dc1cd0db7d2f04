"""The conversion page's status history: each change with its callback's state, one query."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from callbacks.models import CallbackDelivery
from conversions.models import Source, Status
from conversions.services import conversion_status_set
from tests.audit import assert_audit_intact

pytestmark = pytest.mark.django_db

State = CallbackDelivery.State


def history_cells(page):
    """Sequence number -> the text of its Callback cell."""
    rows = re.findall(
        r'<tr class="gk-history-row">\s*<td[^>]*>(\d+)</td>.*?'
        r'<td class="gk-history-callback"[^>]*>(.*?)</td>',
        page,
        re.S,
    )
    return {int(seq): re.sub(r"<[^>]+>", "", cell).strip() for seq, cell in rows}


def change(conversion, status, **options):
    conversion_status_set(
        conversion_ids=[conversion.pk], status=status, source=Source.ADMIN, **options
    )


def test_each_change_shows_what_became_of_its_callback(
    admin_client, partner_factory, conversion_factory
):
    # Given a partner without Pending callbacks, and a conversion changed five times
    partner = partner_factory(
        callback_url="https://rewards.example/cb", pending_callbacks_enabled=False
    )
    conversion = conversion_factory(click__partner=partner, status=Status.PENDING)
    change(conversion, Status.SUCCESS)  # 2: delivered
    change(conversion, Status.REJECTED)  # 3: failed
    change(conversion, Status.PENDING)  # 4: not owed, Pending callbacks off
    change(conversion, Status.SUCCESS, send_callbacks=False)  # 5: suppressed by the import
    change(conversion, Status.REJECTED)  # 6: waiting for its first attempt
    deliveries = {
        d.sequence_number: d for d in CallbackDelivery.objects.filter(conversion=conversion)
    }
    CallbackDelivery.objects.filter(pk=deliveries[2].pk).update(
        state=State.DELIVERED, last_response_status=200, delivered_at=deliveries[2].created_at
    )
    CallbackDelivery.objects.filter(pk=deliveries[3].pk).update(
        state=State.FAILED, attempts=1, last_error="HTTP 410 from the partner: not retried."
    )

    page = admin_client.get(reverse("admin:conversions_conversion_change", args=[conversion.pk]))

    cells = history_cells(page.text)
    assert cells[2].startswith("Delivered: HTTP 200 at ")
    assert cells[3] == "Failed: HTTP 410 from the partner: not retried."
    assert cells[4] == "Not owed: the partner took no Pending callbacks then"
    assert cells[5] == "Not sent: suppressed by the import"
    assert cells[6] == "Due"
    delivery_url = reverse("admin:callbacks_callbackdelivery_change", args=[deliveries[3].pk])
    assert f'href="{delivery_url}"' in page.text
    assert_audit_intact()


def test_the_history_costs_the_same_queries_however_long(
    admin_client, partner_factory, conversion_factory
):
    partner = partner_factory(callback_url="https://rewards.example/cb")
    short, long = conversion_factory.create_batch(2, click__partner=partner)
    change(short, Status.SUCCESS)
    for status in (Status.SUCCESS, Status.REJECTED) * 4:
        change(long, status)

    def queries(conversion):
        url = reverse("admin:conversions_conversion_change", args=[conversion.pk])
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(url).status_code == 200
        return len(captured)

    assert queries(long) == queries(short)
