"""The JSON callback's ``conversion`` object against GoKart's documented callback schema (v1):
every field GoKart documents is there, in its order, then ours; what we cannot fill is null."""

from decimal import Decimal

import pytest

from callbacks.callback_fields import UNFILLED
from callbacks.models import CallbackDelivery, Partner
from callbacks.payloads import callback_payloads_render
from conversions.models import Source, Status
from conversions.services import conversion_status_set

pytestmark = pytest.mark.django_db

# The keys of the "conversion" object of GoKart's documented example request body, in its
# order ("Callback Schema: v1", http://support.getgokart.ai/en/articles/11852369-callback-schema-v1).
GOKART_DOCUMENTED_KEYS = [
    "status",
    "rejectionReason",
    "userCompletedAt",
    "isRewardSent",
    "viewId",
    "clickId",
    "conversionId",
    "offerId",
    "offerName",
    "offerAdvertiserId",
    "offerEventId",
    "offerAdvertiserName",
    "offerCategoryId",
    "offerCategoryName",
    "offerCountryId",
    "offerCountryCode2",
    "offerCountryCode3",
    "eventId",
    "eventName",
    "rewardPoints",
    "revenue",
    "pubMemberId",
    "pubClickId",
    "pubSessionId",
    "pubGender",
    "pubAge",
    "pubGeoCountry",
    "pubGeoState",
    "pubPostalCode",
    "pubSub1",
    "pubSub2",
    "pubSub3",
    "pubSub4",
    "pubSub5",
    "pubSub6",
    "pubSub7",
    "pubSub8",
    "pubSub9",
    "pubSub10",
    "pubSub11",
    "pubSub12",
    "pubSub13",
    "pubSub14",
    "pubSub15",
    "pubDevice",
    "trackSysEventId",
    "trackSysConversionId",
    "trackSysConversionAmount",
    "trackSysConversionIpAddress",
    "trackSysConversionEmail",
    "trackSysConversionUserId",
    "trackSysConversionSub1",
    "trackSysConversionSub2",
    "trackSysConversionSub3",
    "trackSysConversionSub4",
    "trackSysConversionSub5",
    "sequenceNumber",
    "partnerId",
    "partnerName",
    "createdAt",
    "clickTime",
]
# Ours, after GoKart's: the partner's payout and its currency, the older name of pubMemberId,
# and the status-change counter (what sequenceNumber meant here before).
OUR_KEYS = ["payout", "currency", "pubSub", "statusChangeNumber"]


@pytest.fixture
def partner(partner_factory):
    return partner_factory(callback_url="http://127.0.0.1:9/callbacks")


def rendered(conversion, status, **changes):
    conversion_status_set(
        conversion_ids=[conversion.pk], status=status, source=Source.ADMIN, **changes
    )
    delivery = CallbackDelivery.objects.filter(conversion=conversion).latest("sequence_number")
    return callback_payloads_render(delivery_ids=[delivery.pk])[delivery.pk]["conversion"]


def test_the_payload_has_gokarts_documented_keys_in_order_then_ours(partner, conversion_factory):
    conversion = conversion_factory(click__partner=partner)

    fields = rendered(conversion, Status.SUCCESS)

    assert list(fields) == GOKART_DOCUMENTED_KEYS + OUR_KEYS
    assert {name: fields[name] for name in UNFILLED} == dict.fromkeys(UNFILLED)
    assert fields["trackSysConversionEmail"] is None


def test_the_values_come_from_the_click_the_postback_and_the_partner(
    partner, conversion_factory, offer_event_factory
):
    # Given a conversion of the first event of a three-event offer, with GoKart's values
    conversion = conversion_factory(
        click__partner=partner,
        click__sub_id="member-1",
        click__pub_click_id="pc-9",
        click__pub_sub_1="one",
        click__pub_sub_15="fifteen",
        transaction_id="T-77",
        cnv_amount=Decimal("49.99"),
        cnv_user_id="adv-5",
        cnv_conversion_ip_address="203.0.113.42",
        cnv_sub_3="three",
        cnv_email="jo@example.com",
        status=Status.PENDING,
    )
    offer_event_factory.create_batch(2, offer=conversion.offer)  # its offer's 2nd and 3rd

    # When it is rejected
    fields = rendered(conversion, Status.REJECTED, reason="Chargeback")

    # Then the callback carries them
    assert fields["status"] == "Rejected" and fields["rejectionReason"] == "Chargeback"
    assert fields["isRewardSent"] is False
    assert (fields["pubMemberId"], fields["pubSub"], fields["pubClickId"]) == (
        "member-1",
        "member-1",
        "pc-9",
    )
    assert (fields["pubSub1"], fields["pubSub2"], fields["pubSub15"]) == ("one", None, "fifteen")
    assert fields["trackSysEventId"] == conversion.offer_event.code
    assert fields["trackSysConversionId"] == "T-77"
    assert fields["trackSysConversionAmount"] == "49.9900"
    assert fields["trackSysConversionIpAddress"] == "203.0.113.42"
    assert fields["trackSysConversionUserId"] == "adv-5"
    assert fields["trackSysConversionSub3"] == "three"
    assert fields["trackSysConversionSub1"] is None
    assert fields["trackSysConversionEmail"] is None  # personal data: never sent
    assert (fields["partnerId"], fields["partnerName"]) == (partner.pk, partner.name)
    assert fields["offerAdvertiserName"] == conversion.offer.advertiser
    # And sequenceNumber is still the status-change counter, as it has always been here
    assert fields["sequenceNumber"] == fields["statusChangeNumber"] == 2


def test_a_partner_on_gokarts_meaning_gets_the_events_place_and_null_on_a_single_event_offer(
    partner, conversion_factory, offer_event_factory, click_factory
):
    partner.sequence_number = Partner.SequenceNumber.EVENT_ORDER
    partner.save()
    single = conversion_factory(click__partner=partner)
    click = click_factory(partner=partner)
    first, second = offer_event_factory.create_batch(2, offer=click.offer)
    later = conversion_factory(click=click, offer_event=second)

    assert rendered(single, Status.SUCCESS)["sequenceNumber"] is None
    fields = rendered(later, Status.SUCCESS)
    assert fields["sequenceNumber"] == 2
    assert fields["statusChangeNumber"] == 2  # Pending, then Success: the counter, as ever
    assert fields["offerEventId"] == fields["eventId"] == second.pk != first.pk


def test_a_partner_on_the_counter_gets_it_as_sequence_number_whatever_the_offer(
    partner, conversion_factory, offer_event_factory, click_factory
):
    click = click_factory(partner=partner)
    offer_event_factory.create_batch(2, offer=click.offer)
    conversion = conversion_factory(click=click)

    first = rendered(conversion, Status.SUCCESS)
    second = rendered(conversion, Status.REJECTED, reason="Chargeback")

    assert partner.sequence_number == Partner.SequenceNumber.STATUS_CHANGE
    assert [first["sequenceNumber"], second["sequenceNumber"]] == [2, 3]
    assert [first["statusChangeNumber"], second["statusChangeNumber"]] == [2, 3]


@pytest.mark.parametrize(
    ("status", "reward_sent"),
    [(Status.SUCCESS, True), (Status.PENDING, False), (Status.REJECTED, False)],
)
def test_is_reward_sent_says_whether_this_callback_is_the_reward(
    partner, conversion_factory, status, reward_sent
):
    start = Status.REJECTED if status == Status.PENDING else Status.PENDING
    conversion = conversion_factory(click__partner=partner, status=start)

    assert rendered(conversion, status)["isRewardSent"] is reward_sent
