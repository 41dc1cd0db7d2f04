"""Who must sign in with a second factor (settings ADMIN_REQUIRE_2FA*, README "Admin access")."""

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django_otp import user_has_device

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


def second_factor_asked(user: User) -> bool:
    """Whether signing in asks ``user`` for a second factor: when required, or once set up."""
    return second_factor_required(user) or user_has_device(user)
