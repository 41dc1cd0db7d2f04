"""The second factor's secrets at rest (gokart.encryption, access.apps): the TOTP key only
encrypted and the recovery codes only hashed in their rows, and signing in with either still
works, a recovery code once."""

import pytest
from django.db import connection

from tests.access.conftest import SECOND_FACTOR_URL, sign_in, totp_code

pytestmark = pytest.mark.django_db


def column_values(table: str, column: str) -> set[str]:
    """A column as the database holds it, past every field's conversion."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table}")  # noqa: S608 -- constant names
        return {row[0] for row in cursor.fetchall()}


def test_totp_sign_in_and_recovery_codes_still_work_once(
    client, staff_member, authenticator, recovery_codes, second_factor_required
):
    # Given a key and codes kept only encrypted and hashed
    [key] = column_values("otp_totp_totpdevice", "key")
    assert key.startswith("gAAAAA") and authenticator.key not in key
    stored_codes = column_values("otp_static_statictoken", "token")
    assert len(stored_codes) == 2 and not stored_codes & set(recovery_codes)

    # The authenticator's code signs in
    sign_in(client, "riley")
    response = client.post(SECOND_FACTOR_URL, {"otp_token": totp_code(authenticator)})
    assert response.status_code == 302 and response.url == "/admin/"
    client.post("/admin/logout/")

    # A recovery code signs in once, and not twice
    sign_in(client, "riley")
    assert client.post(SECOND_FACTOR_URL, {"otp_token": recovery_codes[0]}).status_code == 302
    client.post("/admin/logout/")
    sign_in(client, "riley")
    again = client.post(SECOND_FACTOR_URL, {"otp_token": recovery_codes[0]})
    assert "That code is not right, or was used already" in again.content.decode()
