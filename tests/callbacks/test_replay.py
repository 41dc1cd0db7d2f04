"""Replaying a partner's callbacks of a time range: one background job, same ids, in order."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from callbacks.models import CallbackDelivery
from conversions.models import Source, Status
from conversions.services import conversion_status_set
from tests.audit import assert_audit_intact
from tests.callbacks.conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

State = CallbackDelivery.State
REPLAY = reverse("admin:callbacks_callbackdelivery_replay")


def test_replaying_a_time_range_resends_those_callbacks_only_under_the_same_ids(
    celery_worker, receiver, partner_factory, conversion_factory, admin_client
):
    # Given a partner's delivered callbacks: two owed yesterday (one conversion twice), one
    # owed a week ago
    partner = partner_factory(callback_url=receiver.url)
    recent, old = conversion_factory.create_batch(2, click__partner=partner)
    conversion_status_set(conversion_ids=[recent.pk], status=Status.SUCCESS, source=Source.ADMIN)
    conversion_status_set(conversion_ids=[recent.pk], status=Status.REJECTED, source=Source.ADMIN)
    conversion_status_set(conversion_ids=[old.pk], status=Status.SUCCESS, source=Source.ADMIN)
    receiver.wait_for(3)
    wait_until(lambda: CallbackDelivery.objects.filter(state=State.DELIVERED).count() == 3)
    now = timezone.now()
    CallbackDelivery.objects.filter(conversion=recent).update(created_at=now - timedelta(days=1))
    CallbackDelivery.objects.filter(conversion=old).update(created_at=now - timedelta(days=7))
    query = {
        "partner__id__exact": partner.pk,
        "created_at__gte": (now - timedelta(days=2)).isoformat(),
        "created_at__lt": now.isoformat(),
    }

    # When an admin asks to replay the last two days, the confirmation says how many
    confirmation = admin_client.get(f"{REPLAY}?{urlencode(query)}")
    assert "2 callbacks</strong> will be sent again" in confirmation.text
    response = admin_client.post(f"{REPLAY}?{urlencode(query)}", follow=True)
    assert "Replay queued" in response.text

    # Then the partner receives those two again, under their ids, in their order
    again = receiver.wait_for(5)[3:]
    recent_ids = list(
        CallbackDelivery.objects.filter(conversion=recent)
        .order_by("sequence_number")
        .values_list("pk", flat=True)
    )
    assert [callback.delivery_id for callback in again] == [str(pk) for pk in recent_ids]
    assert [c.json["conversion"]["statusChangeNumber"] for c in again] == [2, 3]
    wait_until(lambda: CallbackDelivery.objects.filter(state=State.DELIVERED).count() == 3)
    assert len(receiver.received) == 5  # the week-old one was not replayed
    assert_audit_intact()


def test_the_list_offers_to_replay_what_its_filter_shows(admin_client):
    page = admin_client.get(
        reverse("admin:callbacks_callbackdelivery_changelist"), {"state__exact": "failed"}
    ).text

    assert f'href="{REPLAY}?state__exact=failed"' in page
