"""Secrets at rest (gokart.encryption): no clear secret in a row, encryption keys that rotate,
a deploy check that refuses to run without them, and every flow that reads them still working."""

import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.db import connection, transaction
from django_otp.plugins.otp_totp.models import TOTPDevice
from standardwebhooks.webhooks import Webhook

from access.services import _recovery_codes_create
from callbacks.models import Partner, PartnerSigningSecret
from callbacks.rotation import partner_signing_secret_rotate
from callbacks.signing import callback_headers_sign
from conversions.models import Offer, ReplacedPostbackToken
from conversions.postback_tokens import offer_postback_token_rotate
from gokart.encryption import field_encryption_keys_check, field_encryption_rotate, token_digest
from tests.access.conftest import PASSWORD
from tests.access.test_deploy_check import ROOT, production_environment

pytestmark = pytest.mark.django_db


def raw(table: str, column: str, row_id: int) -> str:
    """A column as the database holds it, past every field's conversion."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [row_id])  # noqa: S608
        return cursor.fetchone()[0]


def test_no_row_holds_a_secret_in_clear(offer_factory, partner_factory, django_user_model):
    # Given an offer and a partner, each rotated once, an authenticator and recovery codes
    offer = offer_factory()
    first_token = offer.postback_secret
    second_token = offer_postback_token_rotate(offer=offer)
    partner = partner_factory()
    first_secret = partner.signing_secret
    second_secret = partner_signing_secret_rotate(partner=partner)
    user = django_user_model.objects.create_user("kim", password=PASSWORD, is_staff=True)
    device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
    codes = _recovery_codes_create(user=user)

    # Then no column holds any of them as it was
    replaced_token = ReplacedPostbackToken.objects.get(offer=offer)
    assert raw("conversions_offer", "postback_secret", offer.pk) == token_digest(second_token)
    assert raw("conversions_replacedpostbacktoken", "token", replaced_token.pk) == token_digest(
        first_token
    )
    assert second_token not in token_digest(second_token)
    previous = PartnerSigningSecret.objects.get(partner=partner)
    stored = [
        raw("callbacks_partner", "signing_secret", partner.pk),
        raw("callbacks_partnersigningsecret", "secret", previous.pk),
        raw("otp_totp_totpdevice", "key", device.pk),
    ]
    clear = [second_secret, first_secret, device.key]
    for value, secret in zip(stored, clear, strict=True):
        assert value.startswith("gAAAAA") and secret not in value
    with connection.cursor() as cursor:
        cursor.execute("SELECT token FROM otp_static_statictoken")
        stored_codes = {row[0] for row in cursor.fetchall()}
    assert len(stored_codes) == len(codes) and not stored_codes & set(codes)
    # And what is read back is the secret itself where it must be read (signing, TOTP)
    assert Partner.objects.get(pk=partner.pk).signing_secret == second_secret
    assert PartnerSigningSecret.objects.get(pk=previous.pk).secret == first_secret
    assert TOTPDevice.objects.get(pk=device.pk).key == device.key


def test_encrypted_columns_answer_no_search(partner_factory):
    partner = partner_factory()

    # A prefix of a secret cannot be tested through a look-up, nor can the whole secret
    for lookup in ("signing_secret__startswith", "signing_secret__regex", "signing_secret"):
        with pytest.raises(FieldError):
            Partner.objects.filter(**{lookup: partner.signing_secret[:8]}).exists()
    with pytest.raises(FieldError):
        TOTPDevice.objects.filter(key__startswith="a").exists()


def test_a_rotated_key_list_reads_old_values_and_rotation_rewrites_them(settings, partner_factory):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old_key]
    partner = partner_factory()
    secret = partner.signing_secret
    written_with_old = raw("callbacks_partner", "signing_secret", partner.pk)

    # When a new key is put first, the value written under the old one is still read
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    assert Partner.objects.get(pk=partner.pk).signing_secret == secret

    # When the values are encrypted again, the old key can go
    assert field_encryption_rotate() >= 1
    assert raw("callbacks_partner", "signing_secret", partner.pk) != written_with_old
    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    assert Partner.objects.get(pk=partner.pk).signing_secret == secret
    assert (
        Fernet(new_key.encode()).decrypt(
            raw("callbacks_partner", "signing_secret", partner.pk).encode()
        )
        == secret.encode()
    )

    # And a key list without the key a value was written with refuses to guess
    settings.FIELD_ENCRYPTION_KEYS = [old_key]
    with pytest.raises(ImproperlyConfigured, match="cannot be decrypted"):
        Partner.objects.get(pk=partner.pk)


def test_callbacks_are_signed_with_the_decrypted_secrets(partner_factory):
    from django.utils import timezone

    partner = partner_factory()
    old = partner.signing_secret
    new = partner_signing_secret_rotate(partner=partner)
    partner = Partner.objects.prefetch_related("previous_secrets").get(pk=partner.pk)

    headers = callback_headers_sign(
        delivery_id="msg_1", body='{"a": 1}', partner=partner, now=timezone.now()
    )

    for secret in (old, new):
        Webhook(secret).verify('{"a": 1}', headers)


def test_without_keys_production_refuses_and_check_deploy_fails(settings):
    settings.DEBUG = False
    settings.FIELD_ENCRYPTION_KEYS = []

    [error] = field_encryption_keys_check()
    assert error.id == "gokart.E001" and "FIELD_ENCRYPTION_KEYS is not set" in error.msg
    with (
        pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS is not set"),
        transaction.atomic(),
    ):
        Partner.objects.create(name="Nothing written in clear")
    settings.FIELD_ENCRYPTION_KEYS = ["not-a-key"]
    assert [error.id for error in field_encryption_keys_check()] == ["gokart.E002"]


def test_manage_check_deploy_fails_without_keys_with_a_clear_message():
    environment = production_environment()
    environment.pop("FIELD_ENCRYPTION_KEYS", None)

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode != 0
    assert "gokart.E001" in result.stderr and "FIELD_ENCRYPTION_KEYS is not set" in result.stderr


def postback(client, click, token, txn_id):
    return client.get(
        "/postback/",
        {"gk_click_id": click.gk_click_id, "event": "install", "txn_id": txn_id, "token": token},
    )


def test_postbacks_compare_digests(client, offer_factory, offer_event_factory, click_factory):
    offer = offer_factory()
    offer_event_factory(offer=offer, code="install")
    token = offer.postback_secret
    stored = Offer.objects.get(pk=offer.pk).postback_secret

    # The right token is accepted; a wrong one, or the stored digest itself, is refused
    assert postback(client, click_factory(offer=offer), token, "t-1").status_code == 200
    assert postback(client, click_factory(offer=offer), token + "x", "t-2").status_code == 403
    assert postback(client, click_factory(offer=offer), stored, "t-3").status_code == 403
