"""An offer's postback token: shown in full once (creation, rotation), masked on its page, and
rotated without refusing the advertiser's postbacks that still carry the old one."""

import re
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from conversions.models import Conversion, Offer, ReplacedPostbackToken
from conversions.postback_tokens import postback_token_mask
from gokart.encryption import token_digest

pytestmark = pytest.mark.django_db


@pytest.fixture
def offer(offer_factory, offer_event_factory):
    offer = offer_factory(name="Dragon Quest", advertiser="Acme Games")
    offer_event_factory(offer=offer, code="install")
    return offer


def change_url(offer):
    return reverse("admin:conversions_offer_change", args=[offer.pk])


def rotate_url(offer):
    return reverse("admin:conversions_offer_rotate_token", args=[offer.pk])


def reveal_url(offer):
    return reverse("admin:conversions_offer_postback_token", args=[offer.pk])


def rotate(client, offer):
    """What the confirmation page's form sends: the fingerprint of the token it replaces."""
    page = client.get(rotate_url(offer)).text
    replacing = page.split('name="replacing" value="', 1)[1].split('"', 1)[0]
    return client.post(rotate_url(offer), {"replacing": replacing}), replacing


def shown_token(page):
    """The token inside the postback URL the reveal page shows (the database keeps a digest)."""
    return re.search(r'id="gk-postback-url"[^>]*>[^<]*&amp;token=([^<]+)</code>', page.text)[1]


def rotated_token(client, offer):
    """Rotate through the admin's pages and return the new token, as the admin copies it."""
    response, _ = rotate(client, offer)
    return shown_token(client.get(response["Location"]))


def postback(client, click, token, txn_id):
    return client.get(
        "/postback/",
        {"gk_click_id": click.gk_click_id, "event": "install", "txn_id": txn_id, "token": token},
    )


def test_rotating_redirects_to_the_new_token_shown_once(admin_client, offer):
    old = offer.postback_secret

    # When the admin confirms the rotation
    response, _ = rotate(admin_client, offer)

    # Then the POST redirects (post/redirect/get) to the page that shows the new token, in full,
    # inside the postback URL, once
    assert response.status_code == 302
    assert response["Location"] == reveal_url(offer)
    offer.refresh_from_db()
    shown = admin_client.get(response["Location"])
    assert "no-store" in shown["Cache-Control"]
    new = shown_token(shown)
    assert new != old and offer.postback_secret == token_digest(new)
    assert "http://testserver/postback/?gk_click_id={gk_click_id}" in shown.text
    assert "still accepted, alongside this one, for <strong>24 hours</strong>" in shown.text
    # Reloading shows it no more, and rotates nothing
    again = admin_client.get(response["Location"])
    assert new not in again.text
    assert "already shown" in again.text
    offer.refresh_from_db()
    assert ReplacedPostbackToken.objects.filter(offer=offer).count() == 1


def test_sending_the_rotation_form_again_changes_nothing(admin_client, offer):
    _, replacing = rotate(admin_client, offer)
    offer.refresh_from_db()
    current = offer.postback_secret

    # When the same form is sent again (the browser's back button and resubmit)
    response = admin_client.post(rotate_url(offer), {"replacing": replacing}, follow=True)

    # Then the token is the one the first rotation made, and the admin is told why
    offer.refresh_from_db()
    assert offer.postback_secret == current
    assert ReplacedPostbackToken.objects.filter(offer=offer).count() == 1
    assert "already made" in response.text
    assert current not in response.text


def test_the_old_token_is_accepted_within_the_grace_and_refused_after(
    admin_client, client, offer, click_factory
):
    # Given a rotated token
    click = click_factory(offer=offer)
    old = offer.postback_secret
    new = rotated_token(admin_client, offer)

    # Then a real postback with the old token is recorded, as one with the new token is
    accepted = postback(client, click, old, "order-1")
    assert accepted.status_code == 200, accepted.content
    assert postback(client, click_factory(offer=offer), new, "o-2").status_code == 200

    # When its grace has run out
    ReplacedPostbackToken.objects.filter(offer=offer).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    # Then the old token is refused (403, nothing recorded), the new one still accepted
    other = click_factory(offer=offer)
    refused = postback(client, other, old, "order-3")
    assert refused.status_code == 403
    assert refused.json() == {"error": "Invalid token."}
    assert not Conversion.objects.filter(click=other).exists()
    assert postback(client, other, new, "order-4").status_code == 200


def test_a_second_rotation_keeps_the_first_tokens_own_grace(
    admin_client, client, offer, click_factory
):
    first = offer.postback_secret
    second = rotated_token(admin_client, offer)
    first_expiry = ReplacedPostbackToken.objects.get(token=first).expires_at

    # When the token is rotated again inside the grace
    third = rotated_token(admin_client, offer)

    # Then both replaced tokens are kept, each to its own expiry, and both are accepted
    kept = dict(
        ReplacedPostbackToken.objects.filter(offer=offer).values_list("token", "expires_at")
    )
    assert kept.keys() == {token_digest(first), token_digest(second)}
    assert kept[token_digest(first)] == first_expiry
    assert kept[token_digest(second)] >= first_expiry
    for number, token in enumerate([first, second, third]):
        assert postback(client, click_factory(offer=offer), token, f"o-{number}").status_code == 200
    # And the offer's page says which tokens work and until when, masked
    page = admin_client.get(change_url(offer)).text
    for token in (first, second, third):
        assert token not in page
        assert postback_token_mask(token) in page
    assert page.count("(replaced)") == 2
    assert "current: until it is rotated" in page


def test_expired_tokens_are_dropped_at_the_next_rotation(admin_client, offer):
    rotate(admin_client, offer)
    ReplacedPostbackToken.objects.update(expires_at=timezone.now() - timedelta(hours=1))
    offer.refresh_from_db()
    replaced = offer.postback_secret

    rotate(admin_client, offer)

    assert list(ReplacedPostbackToken.objects.values_list("token", flat=True)) == [replaced]


def test_the_grace_is_a_setting(admin_client, offer, settings):
    settings.OFFER_TOKEN_GRACE_HOURS = 2
    before = timezone.now()

    rotate(admin_client, offer)

    expires_at = ReplacedPostbackToken.objects.get().expires_at
    assert before + timedelta(hours=2) <= expires_at <= timezone.now() + timedelta(hours=2)
    assert "for <strong>2 hours</strong>" in admin_client.get(rotate_url(offer)).text


def test_a_rotation_is_recorded_in_the_offers_history_without_the_token(
    admin_client, admin_user, offer
):
    old = offer.postback_secret

    rotate(admin_client, offer)

    offer.refresh_from_db()
    entry = LogEntry.objects.get(object_id=str(offer.pk))
    assert entry.user == admin_user
    assert "Rotated the postback token" in entry.get_change_message()
    assert old not in entry.change_message and offer.postback_secret not in entry.change_message


@pytest.fixture
def offer_viewer(client, django_user_model):
    """A staff user who may view offers, not change them (as the Operators group)."""
    user = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_offer"))
    client.force_login(user)
    return client


def test_a_view_only_user_cannot_rotate(offer_viewer, offer):
    old = offer.postback_secret

    # The confirmation and the POST are both refused, with the permission named
    confirm = offer_viewer.get(rotate_url(offer))
    post = offer_viewer.post(rotate_url(offer), {"replacing": ""})

    assert confirm.status_code == 403 and post.status_code == 403
    assert "“Can change offer” (conversions.change_offer)" in post.text
    offer.refresh_from_db()
    assert offer.postback_secret == token_digest(old)
    assert not ReplacedPostbackToken.objects.exists()
    # Their view of the offer's page has the masked postback URL and no rotation
    page = offer_viewer.get(change_url(offer)).text
    assert f"token={postback_token_mask(old)}" in page
    assert old not in page
    assert rotate_url(offer) not in page


def test_rotation_needs_a_post_with_the_csrf_token(offer, admin_user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    old = offer.postback_secret

    response = client.post(rotate_url(offer), {"replacing": ""})

    assert response.status_code == 403
    offer.refresh_from_db()
    assert offer.postback_secret == token_digest(old)


def test_a_new_offers_token_is_shown_once_after_a_redirect(admin_client):
    response = admin_client.post(
        reverse("admin:conversions_offer_add"),
        {
            "name": "Space Miner",
            "advertiser": "Orbit Ltd",
            "is_active": "on",
            "rewarding_mode": "automatic",
            "attribution_window": "30 days",
            "currency": "USD",
            "landing_url": "https://orbit.example/?c={gk_click_id}",
            "events-TOTAL_FORMS": "1",
            "events-INITIAL_FORMS": "0",
            "events-MIN_NUM_FORMS": "0",
            "events-MAX_NUM_FORMS": "1000",
            "events-0-code": "install",
            "events-0-name": "Install",
            "events-0-payout": "1.00",
            "events-0-revenue": "2.00",
        },
    )

    offer = Offer.objects.get(name="Space Miner")
    assert response.status_code == 302
    assert response["Location"] == reveal_url(offer)
    shown = admin_client.get(response["Location"])
    token = shown_token(shown)
    assert offer.postback_secret == token_digest(token)
    assert "still accepted" not in shown.text  # nothing was replaced
    assert token not in admin_client.get(response["Location"]).text
