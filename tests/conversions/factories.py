from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from conversions.models import (
    Click,
    Conversion,
    ConversionTally,
    Offer,
    OfferEvent,
    Source,
    Status,
    StatusChange,
)
from tests.audit import audit_first_row_record
from tests.callbacks.factories import PartnerFactory


class OfferFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Offer

    name = factory.Sequence(lambda n: f"Offer {n}")
    advertiser = "Acme Games"
    landing_url = "https://advertiser.example/landing?click={gk_click_id}"
    attribution_window = timedelta(days=30)


class OfferEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OfferEvent

    offer = factory.SubFactory(OfferFactory)
    code = factory.Sequence(lambda n: f"event_{n}")
    name = factory.LazyAttribute(lambda o: o.code.replace("_", " ").title())
    payout = Decimal("1.50")
    revenue = Decimal("2.00")


class ClickFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Click

    offer = factory.SubFactory(OfferFactory)
    partner = factory.SubFactory(PartnerFactory)
    sub_id = factory.Sequence(lambda n: f"user-{n}")


class ConversionFactory(factory.django.DjangoModelFactory):
    """A conversion as a postback would have recorded it (version 1, source postback), with its
    first audit row, so that ``audit_verify`` holds for it, and its +1 in the tally."""

    class Meta:
        model = Conversion
        skip_postgeneration_save = True

    click = factory.SubFactory(ClickFactory)
    offer_event = factory.SubFactory(
        OfferEventFactory, offer=factory.SelfAttribute("..click.offer")
    )
    offer = factory.SelfAttribute("click.offer")
    partner = factory.SelfAttribute("click.partner")
    status = Status.PENDING
    status_source = Source.POSTBACK
    status_changed_at = factory.LazyFunction(timezone.now)
    created_at = factory.LazyFunction(timezone.now)
    payout = factory.SelfAttribute("offer_event.payout")
    revenue = factory.SelfAttribute("offer_event.revenue")
    transaction_id = factory.Sequence(lambda n: f"txn-{n}")

    @factory.post_generation
    def first_audit_row(obj, create, extracted, **kwargs):  # noqa: N805 -- factory_boy's hook
        if create:
            audit_first_row_record(obj)
            ConversionTally.objects.create(
                hour=obj.created_at.replace(minute=0, second=0, microsecond=0),
                offer_id=obj.offer_id,
                partner_id=obj.partner_id,
                status=obj.status,
                conversions=1,
                payout=obj.payout,
                revenue=obj.revenue,
            )


def changes_since_recorded():
    """The audit rows of status changes made after the conversions were recorded (every
    factory-made conversion has its first audit row, sequence 1)."""
    return StatusChange.objects.filter(sequence_number__gt=1)
