"""The admin's two-step sign-in, and the page a lockout shows.

Step one is Django's admin login form (user name and password, the same error for an unknown
user as for a wrong password). When the user must use a second factor, or has set one up, the
password step does not sign in: it leaves a pending sign-in (``pending.py``) and goes on to the
code page, or to the set-up page (``two_factor.py``) for someone required to have a second
factor who has none at all (anyone with an authenticator or recovery codes left must use
them). A wrong code counts as a failed sign-in for the lockout.

Every password step is in the sign-in audit: a wrong one (receivers.py, under the account of
the name typed when there is one), a refused one (lockout, not staff), and a right one either
as the sign-in or, when a second factor is next, as "password right, second factor next".
"""

from typing import cast

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django_otp import devices_for_user, verify_token
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from access import services
from access.forms import SecondFactorForm
from access.models import SignInEventKind
from access.pages import admin_page_render
from access.pending import (
    PendingSignIn,
    pending_sign_in_clear,
    pending_sign_in_finish,
    pending_sign_in_get,
    pending_sign_in_start,
)
from access.policy import second_factor_asked, second_factor_set_up
from access.receivers import SECOND_FACTOR_SENDER

EXPIRED_MESSAGE = "The sign-in took too long. Enter your password again."


class PasswordStepView(LoginView):
    """Django's admin login, which stops short of signing in when a second factor is due."""

    authentication_form = AdminAuthenticationForm
    template_name = "admin/login.html"

    def get_default_redirect_url(self) -> str:
        return reverse("admin:index")

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        # The right password of an account that may not use the admin (not staff) raises no
        # failure signal; it is refused with the same message, and audited here.
        if form.get_user() is not None:
            services.sign_in_event_record(
                kind=SignInEventKind.SIGN_IN_FAILED,
                request=self.request,
                user=form.get_user(),
                detail="not a staff account",
            )
        return super().form_invalid(form)

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        user = form.get_user()
        if not second_factor_asked(user):
            return super().form_valid(form)  # audited as a sign-in by receivers.py
        pending_sign_in_start(request=self.request, user=user, next_url=self.get_success_url())
        # Audited although nobody is signed in yet: a right password from elsewhere is news.
        set_up = second_factor_set_up(user)
        services.sign_in_event_record(
            kind=SignInEventKind.PASSWORD_PASSED,
            request=self.request,
            user=user,
            detail="second factor next" if set_up else "authenticator set-up next",
        )
        return redirect("admin:second_factor" if set_up else "admin:authenticator_setup")


def sign_in(request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
    """The admin site's ``login`` view, as Django's own but with the two-step form above."""
    site = admin.site
    if request.method == "GET" and site.has_permission(request):
        return HttpResponseRedirect(reverse("admin:index"))
    context = {
        **site.each_context(request),
        "title": "Log in",
        "subtitle": None,
        "app_path": request.get_full_path(),
        "username": request.user.get_username(),
    }
    if REDIRECT_FIELD_NAME not in request.GET and REDIRECT_FIELD_NAME not in request.POST:
        context[REDIRECT_FIELD_NAME] = reverse("admin:index")
    context.update(extra_context or {})
    request.current_app = site.name
    # LoginView answers an HttpResponse (its page or a redirect); the stubs say the base type.
    return cast(HttpResponse, PasswordStepView.as_view(extra_context=context)(request))


@sensitive_post_parameters("otp_token")
@csrf_protect
@never_cache
def second_factor(request: HttpRequest) -> HttpResponse:
    """Step two: a code from the authenticator app, or a recovery code (each works once)."""
    pending = pending_sign_in_get(request)
    if pending is None:
        messages.error(request, EXPIRED_MESSAGE)
        return redirect("admin:login")
    if not second_factor_set_up(pending.user):  # removed meanwhile by an admin, or used up
        return redirect("admin:authenticator_setup")
    credentials = {"username": pending.user.get_username()}
    if settings.AXES_ENABLED and AxesProxyHandler.is_locked(request, credentials):
        pending_sign_in_clear(request)
        return lockout_response(request)
    form = SecondFactorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = _device_matching(pending, form.cleaned_data["otp_token"])
        if device is not None:
            return _second_factor_passed(request, pending, device)
        user_login_failed.send(
            sender=SECOND_FACTOR_SENDER, credentials=credentials, request=request
        )
        if getattr(request, "axes_locked_out", False):
            pending_sign_in_clear(request)
            return lockout_response(request)
        form.add_error("otp_token", "That code is not right, or was used already. Try again.")
    return admin_page_render(
        request,
        "admin/access/second_factor.html",
        {"title": "Second factor", "form": form, "pending_user": pending.user},
    )


def _device_matching(pending: PendingSignIn, token: str) -> TOTPDevice | StaticDevice | None:
    # The authenticator first: recovery codes are for when the phone is not at hand.
    devices = sorted(devices_for_user(pending.user), key=lambda d: isinstance(d, StaticDevice))
    for device in devices:
        if isinstance(device, TOTPDevice) and not token.isdigit():
            continue
        matched = verify_token(pending.user, device.persistent_id, token)
        if matched is not None:
            return matched
    return None


def _second_factor_passed(
    request: HttpRequest, pending: PendingSignIn, device: TOTPDevice | StaticDevice
) -> HttpResponse:
    if isinstance(device, StaticDevice):
        left = services.recovery_codes_left(user=pending.user)
        services.sign_in_event_record(
            kind=SignInEventKind.RECOVERY_CODE_USED,
            request=request,
            user=pending.user,
            detail=f"{left} left",
        )
        messages.warning(
            request,
            f"You signed in with a recovery code: {left} left. If your phone is lost, "
            "ask an administrator to remove its authenticator, then set up a new one.",
        )
    pending_sign_in_finish(request=request, pending=pending, device=device)
    return HttpResponseRedirect(pending.next_url)


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict | None = None,
) -> HttpResponse:
    """The sign-in page with the one lockout message, whoever the name (django-axes' hook)."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    pending_sign_in_clear(request)
    response = admin_page_render(
        request,
        "admin/login.html",
        {
            "title": "Log in",
            "subtitle": None,
            "app_path": reverse("admin:login"),
            "form": AdminAuthenticationForm(request),
            "lockout_message": (
                f"Too many failed sign-ins. Try again in {minutes} minute{'s' * (minutes != 1)}."
            ),
            REDIRECT_FIELD_NAME: _safe_next(request),
        },
    )
    # django-axes sets its default (429) on the settings at start; the stubs do not know it.
    response.status_code = getattr(settings, "AXES_HTTP_RESPONSE_CODE", 429)
    # Rendered here: axes' middleware returns it after the view's response was rendered.
    return response.render()


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get(REDIRECT_FIELD_NAME) or request.GET.get(REDIRECT_FIELD_NAME, "")
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if allowed else reverse("admin:index")
