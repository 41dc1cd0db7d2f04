"""A sign-in half done: the password was right, the second factor is still to come.

Until the second factor passes, the user is *not* signed in: the session holds only who
passed the password step, through which backend, when, and where to go next. Nothing in the
admin opens to it; only the second-factor page (and, for someone required to have a second
factor who has none yet, the authenticator set-up page) reads it.
"""

import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth import login as auth_login
from django.contrib.auth.models import User
from django.http import HttpRequest
from django_otp.models import Device

SESSION_KEY = "_gk_pending_sign_in"


@dataclass(frozen=True)
class PendingSignIn:
    user: User
    backend: str
    next_url: str


def pending_sign_in_start(*, request: HttpRequest, user: User, next_url: str) -> None:
    """Remember that ``user`` passed the password step (``user.backend`` set by authenticate)."""
    request.session.cycle_key()
    request.session[SESSION_KEY] = {
        "user_id": str(user.pk),
        "backend": user.backend,
        "started": time.time(),
        "next": next_url,
    }


def pending_sign_in_get(request: HttpRequest) -> PendingSignIn | None:
    """The pending sign-in, or ``None`` when there is none, it is too old or the user is gone."""
    state = request.session.get(SESSION_KEY)
    if not state:
        return None
    if time.time() - state["started"] > settings.ADMIN_SECOND_FACTOR_WITHIN_SECONDS:
        pending_sign_in_clear(request)
        return None
    user = get_user_model().objects.filter(pk=state["user_id"], is_active=True).first()
    if user is None or state["backend"] not in settings.AUTHENTICATION_BACKENDS:
        pending_sign_in_clear(request)
        return None
    return PendingSignIn(user=user, backend=state["backend"], next_url=state["next"])


def pending_sign_in_clear(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)


def pending_sign_in_finish(*, request: HttpRequest, pending: PendingSignIn, device: Device) -> None:
    """Sign the user in, verified by ``device`` (django-otp keeps it in the session)."""
    pending_sign_in_clear(request)
    # django-otp's user_logged_in receiver keeps the device that verified the sign-in
    pending.user.otp_device = device  # type: ignore[attr-defined]
    auth_login(request, pending.user, backend=pending.backend)
