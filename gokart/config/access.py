"""Admin access (README "Admin access"): the two-step sign-in, sessions, lockouts."""

from __future__ import annotations

from datetime import timedelta

from gokart.config import knob
from gokart.config.web import DEBUG

# django-axes' backend comes first: it refuses a locked-out sign-in before the password is even
# checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# On unless DEBUG, so that the demo login of `make run` stays one password.
ADMIN_REQUIRE_2FA = knob(
    "ADMIN_REQUIRE_2FA", not DEBUG, "every staff sign-in asks for a second factor"
)
ADMIN_REQUIRE_2FA_FOR_PERMISSIONS = knob(
    "ADMIN_REQUIRE_2FA_FOR_PERMISSIONS",
    not DEBUG,
    "staff who may change conversion statuses or "
    "approve large changes need one even when ADMIN_REQUIRE_2FA is off",
)
# The password step is good for this long while the second factor is asked for.
ADMIN_SECOND_FACTOR_WITHIN_SECONDS = 300
ADMIN_IDLE_TIMEOUT_MINUTES = knob(
    "ADMIN_IDLE_TIMEOUT_MINUTES", 30, "a session idle this long is signed out"
)
SESSION_COOKIE_AGE = knob("ADMIN_SESSION_HOURS", 12, "longest session, however active") * 3600
SESSION_COOKIE_HTTPONLY = True

OTP_TOTP_ISSUER = knob(
    "OTP_TOTP_ISSUER", "GoKart back office", "the account's name in authenticator apps"
)
# Each wrong code doubles the wait before the next one is checked (django-otp's throttling).
OTP_TOTP_THROTTLE_FACTOR = 1
OTP_STATIC_THROTTLE_FACTOR = 1
# The admin pages of devices (where an administrator removes a lost phone's) never show keys
# or recovery codes.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# Lockout (django-axes): this many failed sign-ins for one user name, or from one address, lock
# that name or address for the cool-off, counted again from each refused attempt.
AXES_ENABLED = knob("AXES_ENABLED", True, "0 turns the lockout off (never in production)")
AXES_FAILURE_LIMIT = knob(
    "ADMIN_LOCKOUT_FAILURES", 5, "failed sign-ins (per user name, per address) before a lockout"
)
AXES_COOLOFF_TIME = timedelta(minutes=knob("ADMIN_LOCKOUT_MINUTES", 15, "how long a lockout lasts"))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "access.sign_in.lockout_response"
AXES_CLIENT_IP_CALLABLE = "access.addresses.client_address"
# The sign-in audit (access.SignInEvent) is the one record of sign-ins; axes keeps only the
# failure counters its lockout needs, and its own admin pages are replaced by ours.
AXES_DISABLE_ACCESS_LOG = True
AXES_ENABLE_ADMIN = False
AXES_SENSITIVE_PARAMETERS = ["otp_token", "csrfmiddlewaretoken"]
AXES_VERBOSE = False
