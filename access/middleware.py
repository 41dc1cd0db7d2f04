"""Signs out a session left idle for ADMIN_IDLE_TIMEOUT_MINUTES (README "Admin access")."""

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

LAST_ACTIVITY_KEY = "_gk_last_activity"
# The stamp is rewritten at most this often, so that not every request writes the session.
STAMP_EVERY_SECONDS = 60
# Set on a request before the middleware signs its user out (the audit says why).
SIGN_OUT_REASON_ATTRIBUTE = "gk_sign_out_reason"


def activity_stamp(request: HttpRequest) -> None:
    """Record now as the session's last activity (at sign-in, and as requests come)."""
    request.session[LAST_ACTIVITY_KEY] = time.time()


class IdleTimeoutMiddleware:
    """Keeps the time of a signed-in session's last request; past the timeout, signs it out.

    Any request of the session counts as activity, the import job page's progress polls
    included (a running import keeps its watcher signed in). The request that finds the
    session idle goes on signed out, so the admin sends it to the sign-in page, which says why.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            self._check(request)
        return self.get_response(request)

    def _check(self, request: HttpRequest) -> None:
        now = time.time()
        minutes = settings.ADMIN_IDLE_TIMEOUT_MINUTES
        last = request.session.get(LAST_ACTIVITY_KEY)
        if last is not None and now - last > minutes * 60:
            setattr(request, SIGN_OUT_REASON_ATTRIBUTE, f"no activity for {minutes} minutes")
            logout(request)
            messages.info(request, f"You were signed out after {minutes} minutes without activity.")
            return
        if last is None or now - last >= STAMP_EVERY_SECONDS:
            activity_stamp(request)
