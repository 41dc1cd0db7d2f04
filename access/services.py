"""Admin access services: the sign-in audit, authenticator enrolment, recovery codes, unlock.

The audit is written from Django's auth signals (``receivers.py``), from axes' lockout signal
and from the views below; every entry goes through ``sign_in_event_record``, which takes what
the request says (address, browser) and never a password, code or key.
"""

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from access.addresses import client_address
from access.models import SignInEvent, SignInEventKind
from access.policy import authenticator_set_up_allowed

RECOVERY_CODE_COUNT = 10
AUTHENTICATOR_NAME = "Authenticator app"
RECOVERY_CODES_NAME = "Recovery codes"
SECOND_FACTOR_FIRST = (
    "Sign in with your second factor first (your authenticator app or a recovery code), "
    "then set up an authenticator app."
)


def sign_in_event_record(
    *,
    kind: SignInEventKind,
    request: HttpRequest | None,
    user: User | None = None,
    username: str = "",
    detail: str = "",
) -> SignInEvent:
    """Write one audit entry; ``username`` defaults to ``user``'s (a typed name otherwise).

    Given only a typed ``username``, the entry names the account of that name when there is
    one (a wrong password for a real account is then found under that account).
    """
    meta = request.META if request is not None else {}
    if user is None and username:
        user_model = get_user_model()
        user = user_model.objects.filter(**{user_model.USERNAME_FIELD: username}).first()
    return SignInEvent.objects.create(
        kind=kind,
        user=user if user is not None and user.pk else None,
        username=(username or (user.get_username() if user is not None else ""))[:150],
        address=client_address(request) if request is not None else None,
        user_agent=meta.get("HTTP_USER_AGENT", "")[:300],
        detail=detail[:200],
    )


@transaction.atomic
def authenticator_start(*, user: User, verified_by: Device | None) -> TOTPDevice:
    """A new authenticator for ``user`` to set up, with a new key, unconfirmed until its code.

    Any earlier set-up not confirmed yet is discarded: only the newest can be confirmed, so a
    key shown to one session never becomes the factor another session confirms. The caller
    keeps the device's id with the session that is shown its key (``authenticator_in_set_up``).
    ``verified_by`` is the device that verified the session, if any: someone with a second
    factor must have passed it (``policy.authenticator_set_up_allowed``), else
    ``ValidationError``.
    """
    _authenticator_set_up_check(user=user, verified_by=verified_by)
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)


def _authenticator_set_up_check(*, user: User, verified_by: Device | None) -> None:
    if not authenticator_set_up_allowed(user=user, verified_by=verified_by):
        raise ValidationError(SECOND_FACTOR_FIRST)


def authenticator_in_set_up(*, user: User, device_id: int | None) -> TOTPDevice | None:
    """The unconfirmed authenticator ``device_id`` of ``user``; ``None`` once confirmed or gone."""
    if device_id is None:
        return None
    return TOTPDevice.objects.filter(pk=device_id, user=user, confirmed=False).first()


@transaction.atomic
def authenticator_confirm(
    *, device: TOTPDevice, token: str, verified_by: Device | None, request: HttpRequest
) -> list[str] | None:
    """Confirm a new authenticator with a code from it; ``None`` when the code is wrong.

    ``None`` too when the device is no longer waiting (confirmed, or discarded by a newer
    set-up meanwhile). On success the user's other authenticators are removed, a fresh set of
    recovery codes replaces any earlier one, and the enrolment is audited; the codes are
    returned to be shown once. ``ValidationError`` as for ``authenticator_start``.
    """
    _authenticator_set_up_check(user=device.user, verified_by=verified_by)
    device = (
        TOTPDevice.objects.select_for_update()
        .filter(pk=device.pk, user_id=device.user_id, confirmed=False)
        .first()
    )
    if device is None or not device.verify_token(token):
        return None
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user_id=device.user_id).exclude(pk=device.pk).delete()
    codes = _recovery_codes_create(user=device.user)
    sign_in_event_record(kind=SignInEventKind.ENROLLED, request=request, user=device.user)
    return codes


def recovery_codes_replace(
    *, user: User, verified_by: Device | None, authenticator_token: str, request: HttpRequest
) -> list[str]:
    """Replace the user's recovery codes with a new set (returned, to be shown once).

    Only for a session verified by a second factor (``verified_by``). A session verified by a
    recovery code must also give a fresh code from the authenticator app
    (``authenticator_token``): a recovery code alone, perhaps someone else's copy, must not
    buy a new set that the user's own copy no longer matches. Raises ``ValidationError``
    (a wrong code is audited) otherwise.
    """
    if verified_by is None:
        raise ValidationError("Sign in with your authenticator app first to get new codes.")
    if isinstance(verified_by, StaticDevice):
        authenticator = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if authenticator is None:
            raise ValidationError(
                "You signed in with a recovery code and have no authenticator app: "
                "set one up: that makes new recovery codes too."
            )
        if not (authenticator_token and authenticator.verify_token(authenticator_token)):
            if authenticator_token:
                sign_in_event_record(
                    kind=SignInEventKind.SECOND_FACTOR_FAILED,
                    request=request,
                    user=user,
                    detail="for new recovery codes",
                )
            raise ValidationError(
                "You signed in with a recovery code: to get new ones, enter a code from your "
                "authenticator app."
            )
    with transaction.atomic():
        codes = _recovery_codes_create(user=user)
        sign_in_event_record(
            kind=SignInEventKind.RECOVERY_CODES_REPLACED, request=request, user=user
        )
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
