"""The partner admin: callback settings, a signing secret shown once, and its rotation."""

import re
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from callbacks.admin import signing_secret_mask
from callbacks.models import Partner, PartnerSigningSecret
from tests.callbacks.deliveries_given import staff_client

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:callbacks_partner_changelist")
ADD = reverse("admin:callbacks_partner_add")


def change_url(partner):
    return reverse("admin:callbacks_partner_change", args=[partner.pk])


def reveal_url(partner):
    return reverse("admin:callbacks_partner_signing_secret", args=[partner.pk])


def rotate_url(partner):
    return reverse("admin:callbacks_partner_rotate_secret", args=[partner.pk])


def partner_form(**overrides):
    data = {
        "name": "Reward Wall",
        "is_active": "on",
        "callback_url": "https://rewards.example/gokart/callbacks",
        "pending_callbacks_enabled": "on",
        "rejected_callbacks_enabled": "on",
        "sequence_number": "status_change",
        # The page's event postbacks inline, empty.
        "event_postbacks-TOTAL_FORMS": "0",
        "event_postbacks-INITIAL_FORMS": "0",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def shown_secret(response):
    return re.search(r'<code id="gk-signing-secret"[^>]*>([^<]+)</code>', response.text)[1]


def every_later_page(client, partner):
    """The HTML of every page an admin can open about the partner afterwards."""
    pages = [
        client.get(CHANGELIST),
        client.get(change_url(partner)),
        client.get(reverse("admin:callbacks_partner_history", args=[partner.pk])),
        client.get(rotate_url(partner)),
    ]
    assert all(page.status_code == 200 for page in pages)
    return "\n".join(page.text for page in pages)


# -- the secret: shown once -----------------------------------------------------------------


def test_a_new_partner_gets_a_secret_shown_once_then_only_masked(admin_client):
    # When an admin adds a partner
    response = admin_client.post(ADD, partner_form())

    # Then they are redirected to a page that shows its signing secret in full, uncached
    partner = Partner.objects.get(name="Reward Wall")
    assert response.status_code == 302
    assert response["Location"] == reveal_url(partner)
    assert partner.signing_secret[6:] not in response.text
    revealed = admin_client.get(reveal_url(partner))
    secret = shown_secret(revealed)
    assert secret == partner.signing_secret
    assert secret.startswith("whsec_")
    assert "not shown again" in revealed.text
    assert "no-store" in revealed["Cache-Control"]
    # And reloading that page does not show it again
    reloaded = admin_client.get(reveal_url(partner))
    assert secret[6:] not in reloaded.text
    assert "already shown" in reloaded.text
    # And no later page, nor the admin log, contains it: only its masked form
    later = every_later_page(admin_client, partner)
    assert secret not in later
    assert secret[6:] not in later
    assert signing_secret_mask(secret) in later
    logged = " ".join(str(entry.change_message) for entry in LogEntry.objects.all())
    assert secret[6:] not in logged


def test_the_secret_leaves_the_session_when_shown_and_is_never_in_cookies(admin_client):
    response = admin_client.post(ADD, partner_form())
    partner = Partner.objects.get()
    secret = partner.signing_secret
    assert secret[6:] not in str(response.cookies)

    shown = admin_client.get(reveal_url(partner))

    assert secret[6:] not in str(shown.cookies)
    assert secret[6:] not in str(dict(admin_client.session))


def test_the_mask_shows_only_the_first_and_last_two_characters():
    assert signing_secret_mask("whsec_abcdefghijklmnopqrstuvwxyz") == "whsec_ab…yz"
    assert signing_secret_mask("whsec_abcdefghijklmnopqrstuvwxyz=") == "whsec_ab…yz"
    assert signing_secret_mask("") == "—"


def test_the_add_form_says_success_callbacks_are_always_on(admin_client):
    page = admin_client.get(ADD).text

    assert "Always sent" in page
    assert re.search(r'<input[^>]*name="success_callbacks"[^>]*disabled', page)


def test_toggles_are_saved(admin_client):
    admin_client.post(ADD, partner_form(pending_callbacks_enabled=None))

    partner = Partner.objects.get()
    assert partner.pending_callbacks_enabled is False
    assert partner.rejected_callbacks_enabled is True
    assert partner.callback_url == "https://rewards.example/gokart/callbacks"


# -- the callback URL -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["ftp://rewards.example/callbacks", "file:///etc/passwd", "javascript:alert(1)", "not a url"],
)
def test_a_callback_url_that_is_not_http_or_https_is_refused(admin_client, url):
    response = admin_client.post(ADD, partner_form(callback_url=url))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["callback_url"]
    assert any("http://" in error and "https://" in error for error in errors)
    assert not Partner.objects.exists()


@pytest.mark.parametrize("host", ["10.0.0.5", "192.168.1.20", "169.254.169.254", "[fd00::1]"])
def test_a_callback_url_to_a_private_address_is_refused_with_the_reason(admin_client, host):
    response = admin_client.post(ADD, partner_form(callback_url=f"http://{host}/callbacks"))

    assert response.status_code == 200
    [error] = response.context["adminform"].form.errors["callback_url"]
    assert "refused" in error and host.strip("[]") in error
    assert not Partner.objects.exists()


def test_a_callback_url_typed_without_a_scheme_is_taken_as_https(admin_client):
    admin_client.post(ADD, partner_form(callback_url="rewards.example/cb"))

    assert Partner.objects.get().callback_url == "https://rewards.example/cb"


def test_editing_a_partner_keeps_its_secret(admin_client, partner_factory):
    partner = partner_factory(name="Old name")
    secret = partner.signing_secret

    response = admin_client.post(change_url(partner), partner_form(name="New name"))

    assert response.status_code == 302
    partner.refresh_from_db()
    assert partner.name == "New name"
    assert partner.signing_secret == secret


# -- rotation -------------------------------------------------------------------------------


def test_rotation_asks_for_confirmation_and_explains_the_grace_period(
    admin_client, partner_factory
):
    partner = partner_factory()
    secret = partner.signing_secret

    page = admin_client.get(rotate_url(partner)).text

    assert "24 hours" in page
    assert signing_secret_mask(secret) in page
    partner.refresh_from_db()
    assert partner.signing_secret == secret


def rotate(client, partner):
    """Confirm a rotation as the page does: GET the form, POST it back."""
    form = client.get(rotate_url(partner)).text
    replacing = re.search(r'name="replacing" value="([0-9a-f]+)"', form)[1]
    return client.post(rotate_url(partner), {"replacing": replacing})


def test_rotation_shows_the_new_secret_once_and_the_old_one_signs_for_24_hours(
    admin_client, partner_factory
):
    # Given a partner and its secret
    partner = partner_factory()
    old_secret = partner.signing_secret

    # When an admin confirms the rotation
    response = rotate(admin_client, partner)

    # Then they are redirected to the new secret, shown in full, once
    partner.refresh_from_db()
    assert response.status_code == 302
    revealed = admin_client.get(response["Location"])
    assert shown_secret(revealed) == partner.signing_secret != old_secret
    assert "no-store" in revealed["Cache-Control"]
    assert "24 hours" in revealed.text
    # And the old one still signs for the grace period
    [previous] = PartnerSigningSecret.objects.filter(partner=partner)
    assert previous.secret == old_secret
    expected_end = timezone.now() + timedelta(hours=24)
    assert abs(previous.expires_at - expected_end) < timedelta(minutes=1)
    # And later pages show both only masked, and say until when the old one signs
    later = every_later_page(admin_client, partner)
    assert partner.signing_secret[6:] not in later
    assert old_secret[6:] not in later
    assert signing_secret_mask(old_secret) in later
    assert f"until {previous.expires_at:%Y-%m-%d %H:%M}" in later
    assert LogEntry.objects.filter(change_message="Rotated the signing secret.").count() == 1


def test_sending_the_rotation_form_twice_rotates_once(admin_client, partner_factory):
    partner = partner_factory()
    form = admin_client.get(rotate_url(partner)).text
    replacing = re.search(r'name="replacing" value="([0-9a-f]+)"', form)[1]
    admin_client.post(rotate_url(partner), {"replacing": replacing})
    partner.refresh_from_db()
    rotated = partner.signing_secret

    again = admin_client.post(rotate_url(partner), {"replacing": replacing}, follow=True)

    partner.refresh_from_db()
    assert partner.signing_secret == rotated
    assert PartnerSigningSecret.objects.filter(partner=partner).count() == 1
    assert "already made" in again.text
    assert rotated[6:] not in again.text


def test_a_second_rotation_keeps_the_first_secret_until_its_own_expiry(
    admin_client, partner_factory
):
    partner = partner_factory()
    original = partner.signing_secret
    rotate(admin_client, partner)
    first_expiry = PartnerSigningSecret.objects.get(partner=partner).expires_at

    rotate(admin_client, partner)

    kept = dict(
        PartnerSigningSecret.objects.filter(partner=partner).values_list("secret", "expires_at")
    )
    assert kept[original] == first_expiry
    assert len(kept) == 2
    page = admin_client.get(rotate_url(partner)).text
    assert page.count("(replaced)") == 2


def test_the_rotate_button_is_shown_to_those_who_may_change_partners(
    admin_client, django_user_model, partner_factory
):
    partner = partner_factory()
    viewer = staff_client(django_user_model, "viewer", "view_partner")

    assert rotate_url(partner) in admin_client.get(change_url(partner)).text
    assert rotate_url(partner) not in viewer.get(change_url(partner)).text


def test_view_only_staff_cannot_rotate_even_with_a_forged_post(django_user_model, partner_factory):
    partner = partner_factory()
    secret = partner.signing_secret
    viewer = staff_client(django_user_model, "viewer", "view_partner")

    assert viewer.get(rotate_url(partner)).status_code == 403
    assert viewer.post(rotate_url(partner)).status_code == 403
    partner.refresh_from_db()
    assert partner.signing_secret == secret


def test_rotation_without_a_csrf_token_is_refused(admin_user, partner_factory):
    partner = partner_factory()
    secret = partner.signing_secret
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)

    assert client.post(rotate_url(partner)).status_code == 403
    partner.refresh_from_db()
    assert partner.signing_secret == secret


def test_the_partner_list_never_shows_a_full_secret(admin_client, partner_factory):
    partners = partner_factory.create_batch(3)

    page = admin_client.get(CHANGELIST).text

    for partner in partners:
        assert partner.signing_secret[6:] not in page


def test_the_partner_list_links_to_its_callbacks(admin_client, partner_factory):
    partner = partner_factory()
    deliveries = reverse("admin:callbacks_callbackdelivery_changelist")

    page = admin_client.get(CHANGELIST).text

    assert f"{deliveries}?partner__id__exact={partner.pk}&amp;state__exact=failed" in page


def test_a_partner_built_against_gokart_can_take_its_sequence_number(admin_client):
    page = admin_client.get(ADD)
    assert "GoKart&#x27;s: the event&#x27;s place in a multi-event offer" in page.text

    admin_client.post(ADD, partner_form(sequence_number="event_order"))
    admin_client.post(ADD, partner_form(name="Counter Wall"))

    chosen = dict(Partner.objects.values_list("name", "sequence_number"))
    assert chosen == {"Reward Wall": "event_order", "Counter Wall": "status_change"}
