"""End to end with GoKart's parameters: a partner's click through ``/click/`` with ``pub_*``, the
advertiser's postback through ``/postback/`` with ``cnv_*``, and the partner's JSON callback and
templated postback, sent by a real Celery worker to a real receiver on 127.0.0.1."""

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from standardwebhooks.webhooks import Webhook

from callbacks.models import CallbackDelivery, Partner
from conversions.models import Conversion
from tests.audit import assert_audit_intact
from tests.callbacks.conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

AWKWARD = "a&b=c #d e/f?é 漢"
NEW_MACROS = [
    "user_completed_at",
    "is_reward_sent",
    "sequence_number",
    "partner_id",
    "partner_name",
    "offer_advertiser_name",
    "pub_click_id",
    "pub_sub_1",
    "pub_sub_15",
    "cnv_event_id",
    "cnv_conversion_id",
    "cnv_amount",
    "cnv_user_id",
    "cnv_conversion_ip_address",
    "cnv_sub_1",
    "cnv_sub_5",
    "status_change_number",
]


@pytest.fixture
def offer(offer_factory, offer_event_factory):
    """A two-event offer: ``install`` then ``purchase``."""
    offer = offer_factory(advertiser="Brown Boots")
    offer_event_factory(offer=offer, code="install")
    offer_event_factory(offer=offer, code="purchase")
    return offer


@pytest.fixture
def partner(partner_factory, receiver):
    base = receiver.url.rsplit("/callbacks", 1)[0]
    template = f"{base}/pb?" + "&".join(f"{name}={{{name}}}" for name in NEW_MACROS)
    return partner_factory(
        name="RewardsApp",
        callback_url=receiver.url,
        postback_url=template,
        sequence_number=Partner.SequenceNumber.EVENT_ORDER,  # built against GoKart's schema
    )


def gokart_click(client, offer, partner):
    """The partner's click with every GoKart parameter; the click id the advertiser got."""
    params = {
        "pub_member_id": f"member {AWKWARD}",
        "pub_click_id": f"pc {AWKWARD}",
        "pub_sub_1": "one",
        "pub_sub_15": f"fifteen {AWKWARD}",
    }
    response = client.get(f"/click/{offer.pk}/{partner.pk}/?{urlencode(params)}")
    assert response.status_code == 302
    return parse_qs(urlsplit(response["Location"]).query)["click"][0]


def gokart_postback(client, offer, gk_click_id):
    params = {
        "gk_click_id": gk_click_id,
        "cnv_event_id": "purchase",
        "cnv_conversion_id": f"order {AWKWARD}",
        "cnv_amount": "49.99",
        "cnv_user_id": f"adv {AWKWARD}",
        "cnv_conversion_ip_address": "203.0.113.42",
        "cnv_sub_1": "s1",
        "cnv_sub_5": f"s5 {AWKWARD}",
        "cnv_email": "jo@example.com",
        "token": offer.postback_secret,
    }
    response = client.get("/postback/", params)
    assert response.status_code == 200, response.content
    return Conversion.objects.get(pk=response.json()["conversion_id"])


def test_a_gokart_click_and_postback_reach_the_partner_with_gokarts_fields(
    celery_worker, receiver, client, offer, partner
):
    # Given a click and a postback that used GoKart's parameters
    conversion = gokart_postback(client, offer, gokart_click(client, offer, partner))

    # When the worker sends what the Success owes: the JSON callback and the global postback
    received = receiver.wait_for(2)
    [callback] = [r for r in received if r.method == "POST"]
    [postback] = [r for r in received if r.method == "GET"]

    # Then the JSON callback, signed, carries the click's and the postback's values
    fields = Webhook(partner.signing_secret).verify(callback.body, callback.headers)["conversion"]
    assert fields["status"] == "Success" and fields["isRewardSent"] is True
    assert fields["conversionId"] == conversion.pk
    assert fields["pubMemberId"] == fields["pubSub"] == f"member {AWKWARD}"
    assert fields["pubClickId"] == f"pc {AWKWARD}"
    assert (fields["pubSub1"], fields["pubSub2"], fields["pubSub15"]) == (
        "one",
        None,
        f"fifteen {AWKWARD}",
    )
    assert fields["trackSysEventId"] == "purchase"
    assert fields["trackSysConversionId"] == f"order {AWKWARD}"
    assert fields["trackSysConversionAmount"] == "49.9900"
    assert fields["trackSysConversionIpAddress"] == "203.0.113.42"
    assert fields["trackSysConversionUserId"] == f"adv {AWKWARD}"
    assert (fields["trackSysConversionSub1"], fields["trackSysConversionSub5"]) == (
        "s1",
        f"s5 {AWKWARD}",
    )
    assert fields["trackSysConversionEmail"] is None
    assert (fields["partnerId"], fields["partnerName"]) == (partner.pk, "RewardsApp")
    assert fields["offerAdvertiserName"] == "Brown Boots"
    assert fields["sequenceNumber"] == 2  # purchase, the offer's second event
    assert fields["statusChangeNumber"] == 1
    assert fields["userCompletedAt"] == fields["createdAt"]
    # And the templated postback has the new macros filled, each URL-encoded
    assert "#" not in postback.path and " " not in postback.path
    query = {name: values[0] for name, values in parse_qs(urlsplit(postback.path).query).items()}
    assert query == {
        "user_completed_at": fields["userCompletedAt"],
        "is_reward_sent": "true",
        "sequence_number": "2",
        "partner_id": str(partner.pk),
        "partner_name": "RewardsApp",
        "offer_advertiser_name": "Brown Boots",
        "pub_click_id": f"pc {AWKWARD}",
        "pub_sub_1": "one",
        "pub_sub_15": f"fifteen {AWKWARD}",
        "cnv_event_id": "purchase",
        "cnv_conversion_id": f"order {AWKWARD}",
        "cnv_amount": "49.9900",
        "cnv_user_id": f"adv {AWKWARD}",
        "cnv_conversion_ip_address": "203.0.113.42",
        "cnv_sub_1": "s1",
        "cnv_sub_5": f"s5 {AWKWARD}",
        "status_change_number": "1",
    }
    wait_until(
        lambda: (
            not CallbackDelivery.objects.exclude(state=CallbackDelivery.State.DELIVERED)
            .filter(conversion=conversion)
            .exists()
        )
    )
    assert_audit_intact()
