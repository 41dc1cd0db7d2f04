"""A staff member's own second factor: authenticator set-up and recovery codes.

Recovery codes are shown once, in the response that creates them, and never stored anywhere
else than django-otp's static device (nor put in the session or a message).
"""

from base64 import b32encode

from django.contrib import admin, messages
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from access import services
from access.forms import AuthenticatorConfirmForm
from access.pending import pending_sign_in_finish, pending_sign_in_get
from access.policy import second_factor_required
from access.qr import qr_svg


@sensitive_post_parameters("otp_token")
@csrf_protect
@never_cache
def authenticator_setup(request: HttpRequest) -> HttpResponse:
    """Set up an authenticator app: its QR code, a code from it, then recovery codes once.

    Open to a signed-in staff member without one, and, during sign-in, to someone who must
    have a second factor and has none yet (they are signed in once the app's code checks).
    """
    pending = pending_sign_in_get(request)
    user = pending.user if pending is not None else request.user
    if pending is None and not (user.is_active and user.is_staff):
        return redirect(f"{reverse('admin:login')}?{REDIRECT_FIELD_NAME}={request.path}")
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        if pending is not None:  # someone who already has a second factor must use it
            return redirect("admin:second_factor")
        messages.info(request, "Your authenticator app is set up already.")
        return redirect("admin:two_factor")

    device = services.authenticator_start(user=user)
    form = AuthenticatorConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = services.authenticator_confirm(
            device=device, token=form.cleaned_data["otp_token"], request=request
        )
        if codes is not None:
            device.refresh_from_db()
            if pending is not None:
                pending_sign_in_finish(request=request, pending=pending, device=device)
                next_url = pending.next_url
            else:
                otp_login(request, device)
                next_url = reverse("admin:two_factor")
            return admin.site.render_page(
                request,
                "admin/access/recovery_codes.html",
                {"title": "Your recovery codes", "codes": codes, "next_url": next_url},
            )
        form.add_error("otp_token", "That code is not right. Check the phone's clock is set.")
    return admin.site.render_page(
        request,
        "admin/access/authenticator_setup.html",
        {
            "title": "Set up an authenticator app",
            "form": form,
            "qr_svg": qr_svg(device.config_url),
            "key": _grouped(b32encode(device.bin_key).decode()),
            "required": second_factor_required(user),
            "pending": pending is not None,
        },
    )


def two_factor(request: HttpRequest) -> HttpResponse:
    """The signed-in user's own page: their second factor and recovery codes."""
    user = request.user
    authenticator = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return admin.site.render_page(
        request,
        "admin/access/two_factor.html",
        {
            "title": "Two-factor sign-in",
            "authenticator": authenticator,
            "codes_left": services.recovery_codes_left(user=user),
            "required": second_factor_required(user),
            "verified": user.is_verified(),
        },
    )


@require_POST
def recovery_codes_new(request: HttpRequest) -> HttpResponse:
    """Replace the signed-in user's recovery codes: only in a session verified by a code."""
    if not request.user.is_verified():
        messages.error(request, "Sign in with your authenticator app first to get new codes.")
        return redirect("admin:two_factor")
    codes = services.recovery_codes_replace(user=request.user, request=request)
    return admin.site.render_page(
        request,
        "admin/access/recovery_codes.html",
        {"title": "Your recovery codes", "codes": codes, "next_url": reverse("admin:two_factor")},
    )


def _grouped(key: str) -> str:
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))
