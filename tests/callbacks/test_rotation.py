"""Rotating a signing secret twice inside the grace: every secret the partner may still hold
verifies the callbacks until its own expiry (a real worker, a real receiver)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from callbacks.models import PartnerSigningSecret
from callbacks.rotation import partner_signing_secret_rotate
from conversions.models import Source, Status
from conversions.services import conversion_status_set
from tests.audit import assert_audit_intact

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_rotations_inside_the_grace_keep_the_original_secret_until_its_own_expiry(
    celery_worker, receiver, partner_factory, conversion_factory
):
    # Given a partner that still verifies with its original secret
    partner = partner_factory(callback_url=receiver.url)
    original = partner.signing_secret
    conversions = conversion_factory.create_batch(2, click__partner=partner)

    # When its secret is rotated, and rotated again an hour into the grace
    second = partner_signing_secret_rotate(partner=partner)
    PartnerSigningSecret.objects.filter(partner=partner).update(
        replaced_at=timezone.now() - timedelta(hours=1),
        expires_at=timezone.now() + timedelta(hours=23),
    )
    third = partner_signing_secret_rotate(partner=partner)
    conversion_status_set(
        conversion_ids=[conversions[0].pk], status=Status.SUCCESS, source=Source.ADMIN
    )

    # Then the callback verifies with each of the three secrets
    [callback] = receiver.wait_for(1)
    for secret in (original, second, third):
        Webhook(secret).verify(callback.body, callback.headers)
    assert len(callback.headers["webhook-signature"].split(" ")) == 3
    expiries = dict(
        PartnerSigningSecret.objects.filter(partner=partner).values_list("secret", "expires_at")
    )
    assert expiries[original] < expiries[second]  # the second rotation did not shorten it

    # And once the original's own expiry has passed, it no longer signs; the others do
    # (by expiry: an encrypted column answers no look-up)
    PartnerSigningSecret.objects.filter(partner=partner, expires_at=expiries[original]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    conversion_status_set(
        conversion_ids=[conversions[1].pk], status=Status.SUCCESS, source=Source.ADMIN
    )
    _, later = receiver.wait_for(2)
    with pytest.raises(WebhookVerificationError):
        Webhook(original).verify(later.body, later.headers)
    Webhook(second).verify(later.body, later.headers)
    Webhook(third).verify(later.body, later.headers)
    assert_audit_intact()
