"""Who must sign in with a second factor (settings ADMIN_REQUIRE_2FA*, README "Admin access")."""

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django_otp import devices_for_user
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice

# Holders of these may move money in bulk: with ADMIN_REQUIRE_2FA_FOR_PERMISSIONS they need a
# second factor even when staff in general do not. A permission that does not exist (yet) is
# held by superusers only, as Django's has_perm answers.
MONEY_MOVING_PERMISSIONS = (
    "conversions.change_conversion_status",
    "conversions.approve_large_status_change",
)


def second_factor_required(user: User | AnonymousUser) -> bool:
    """Whether the settings require ``user`` to have passed a second factor to use the admin."""
    if not user.is_active or not user.is_staff:
        return False
    if settings.ADMIN_REQUIRE_2FA:
        return True
    return settings.ADMIN_REQUIRE_2FA_FOR_PERMISSIONS and any(
        user.has_perm(permission) for permission in MONEY_MOVING_PERMISSIONS
    )


def second_factor_set_up(user: User | AnonymousUser) -> bool:
    """Whether ``user`` has a second factor to use: an authenticator, or recovery codes left.

    Recovery codes all used up are no factor: nobody can pass the second step with them.
    """
    return any(
        not isinstance(device, StaticDevice) or device.token_set.exists()
        for device in devices_for_user(user)
    )


def second_factor_asked(user: User) -> bool:
    """Whether signing in asks ``user`` for a second factor: when required, or once set up."""
    return second_factor_required(user) or second_factor_set_up(user)


def authenticator_set_up_allowed(*, user: User | AnonymousUser, verified_by: Device | None) -> bool:
    """Whether a session may set up a new authenticator for ``user``.

    Someone with a second factor must pass it first (``verified_by``, the device that verified
    the session): otherwise a password alone would enrol a factor of its own choosing, and an
    authenticator's enrolment replaces the recovery codes. Someone with none sets one up with
    the password alone (required to have one, during the sign-in; or signed in already).
    """
    return verified_by is not None or not second_factor_set_up(user)
