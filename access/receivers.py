"""The sign-in audit's listeners: Django's auth signals and django-axes' lockout signal.

Signals are the one hook that sees every sign-in, whichever view or backend made it. Each
listener only hands what the signal says to ``services.sign_in_event_record`` (and a sign-in
starts the idle clock).
"""

from datetime import timedelta

from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django_otp.plugins.otp_static.models import StaticDevice

from access.middleware import SIGN_OUT_REASON_ATTRIBUTE, activity_stamp
from access.models import SignInEventKind
from access.services import sign_in_event_record

# The sender of user_login_failed for a wrong second-factor code (so that the lockout counts it).
SECOND_FACTOR_SENDER = "access.second_factor"


@receiver(user_logged_in, dispatch_uid="access.sign_in")
def sign_in_recorded(sender, request, user, **kwargs) -> None:
    device = getattr(user, "otp_device", None)
    if device is None:
        detail = "password only"
    elif isinstance(device, StaticDevice):
        detail = "password and a recovery code"
    else:
        detail = "password and authenticator app"
    sign_in_event_record(kind=SignInEventKind.SIGNED_IN, request=request, user=user, detail=detail)


@receiver(user_logged_in, dispatch_uid="access.session_clocks")
def session_clocks_started(sender, request, user, **kwargs) -> None:
    # The idle timeout counts from the sign-in, before any other request; and the session ends
    # SESSION_COOKIE_AGE after it at the latest (a fixed time: saving it again does not extend
    # it, as a relative expiry would on each activity stamp).
    if request is not None and hasattr(request, "session"):
        activity_stamp(request)
        request.session.set_expiry(timedelta(seconds=settings.SESSION_COOKIE_AGE))


@receiver(user_login_failed, dispatch_uid="access.sign_in_failed")
def sign_in_failure_recorded(sender, credentials, request=None, **kwargs) -> None:
    # Axes' own listener ran first (its app is listed before ours): when this failure locked
    # the name or address, or was refused by a lockout, the lockout listener records it.
    if getattr(request, "axes_locked_out", False):
        return
    kind = (
        SignInEventKind.SECOND_FACTOR_FAILED
        if sender == SECOND_FACTOR_SENDER
        else SignInEventKind.SIGN_IN_FAILED
    )
    username = str(credentials.get("username") or "")
    sign_in_event_record(kind=kind, request=request, username=username)


@receiver(user_locked_out, dispatch_uid="access.locked_out")
def lockout_recorded(sender, request, username=None, ip_address=None, **kwargs) -> None:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    sign_in_event_record(
        kind=SignInEventKind.LOCKED_OUT,
        request=request,
        username=username or "",
        detail=f"{settings.AXES_FAILURE_LIMIT} failures or more; locked for {minutes} minutes",
    )


@receiver(user_logged_out, dispatch_uid="access.sign_out")
def sign_out_recorded(sender, request, user, **kwargs) -> None:
    if user is None:
        return
    reason = getattr(request, SIGN_OUT_REASON_ATTRIBUTE, None)
    sign_in_event_record(
        kind=SignInEventKind.TIMED_OUT if reason else SignInEventKind.SIGNED_OUT,
        request=request,
        user=user,
        detail=reason or "",
    )
