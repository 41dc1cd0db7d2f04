"""Admin access services: the sign-in audit, authenticator enrolment, recovery codes, unlock.

The audit is written from Django's auth signals (``receivers.py``), from axes' lockout signal
and from the views below; every entry goes through ``sign_in_event_record``, which takes what
the request says (address, browser) and never a password, code or key.
"""

from collections.abc import Iterable

from django.contrib.auth.models import User
from django.db import transaction
from django.http import HttpRequest
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from access.addresses import client_address
from access.models import SignInEvent, SignInEventKind

RECOVERY_CODE_COUNT = 10
AUTHENTICATOR_NAME = "Authenticator app"
RECOVERY_CODES_NAME = "Recovery codes"


def sign_in_event_record(
    *,
    kind: SignInEventKind,
    request: HttpRequest | None,
    user: User | None = None,
    username: str = "",
    detail: str = "",
) -> SignInEvent:
    """Write one audit entry; ``username`` defaults to ``user``'s (a typed name otherwise)."""
    meta = request.META if request is not None else {}
    return SignInEvent.objects.create(
        kind=kind,
        user=user if user is not None and user.pk else None,
        username=(username or (user.get_username() if user is not None else ""))[:150],
        address=client_address(request) if request is not None else None,
        user_agent=meta.get("HTTP_USER_AGENT", "")[:300],
        detail=detail[:200],
    )


def authenticator_start(*, user: User) -> TOTPDevice:
    """The user's authenticator app being set up: unconfirmed until a code from it is entered.

    The same one is returned until it is confirmed, so reloading the page keeps the QR code.
    """
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)
    return device


@transaction.atomic
def authenticator_confirm(
    *, device: TOTPDevice, token: str, request: HttpRequest
) -> list[str] | None:
    """Confirm a new authenticator with a code from it; ``None`` when the code is wrong.

    On success the user's other authenticators are removed, a fresh set of recovery codes
    replaces any earlier one, and the enrolment is audited; the codes are returned to be shown
    once.
    """
    device = TOTPDevice.objects.select_for_update().get(pk=device.pk, confirmed=False)
    if not device.verify_token(token):
        return None
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user_id=device.user_id).exclude(pk=device.pk).delete()
    codes = _recovery_codes_create(user=device.user)
    sign_in_event_record(kind=SignInEventKind.ENROLLED, request=request, user=device.user)
    return codes


@transaction.atomic
def recovery_codes_replace(*, user: User, request: HttpRequest) -> list[str]:
    """Replace the user's recovery codes with a new set (returned, to be shown once)."""
    codes = _recovery_codes_create(user=user)
    sign_in_event_record(kind=SignInEventKind.RECOVERY_CODES_REPLACED, request=request, user=user)
    return codes


def recovery_codes_left(*, user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def _recovery_codes_create(*, user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_CODES_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


@transaction.atomic
def access_attempts_unlock(*, attempts: Iterable, unlocked_by: User, request: HttpRequest) -> int:
    """Forget the given failed-sign-in counters (axes ``AccessAttempt`` rows), audited.

    Returns how many were removed; their user names and addresses can sign in again at once.
    """
    count = 0
    for attempt in attempts:
        sign_in_event_record(
            kind=SignInEventKind.UNLOCKED,
            request=request,
            username=attempt.username or "",
            detail=(
                f"by {unlocked_by.get_username()}: {attempt.failures_since_start} failures "
                f"from {attempt.ip_address or 'unknown address'}"
            ),
        )
        attempt.delete()
        count += 1
    return count
