"""A staff member's own second factor: authenticator set-up and recovery codes.

Recovery codes are shown once, in the response that creates them, and never stored anywhere
else than django-otp's static device (nor put in the session or a message).
"""

from base64 import b32encode

from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from access import services
from access.forms import AuthenticatorConfirmForm
from access.pages import admin_page_render, signed_in_user
from access.pending import PendingSignIn, pending_sign_in_finish, pending_sign_in_get
from access.policy import authenticator_set_up_allowed, second_factor_required
from access.qr import qr_svg

# The id of the unconfirmed authenticator this session was shown (services.authenticator_start).
SETUP_SESSION_KEY = "_gk_authenticator_set_up"


@sensitive_post_parameters("otp_token")
@csrf_protect
@never_cache
def authenticator_setup(request: HttpRequest) -> HttpResponse:
    """Set up an authenticator app: its QR code, a code from it, then recovery codes once.

    Open to a signed-in staff member without one (who has passed any second factor they
    have), and, during sign-in, to someone who must have a second factor and has none at all
    (they are signed in once the app's code checks). Each set-up is a new key, kept for the
    session that was shown it (``SETUP_SESSION_KEY``): no other session sees or confirms it.
    """
    pending = pending_sign_in_get(request)
    user = pending.user if pending is not None else signed_in_user(request)
    if pending is None and not (user.is_active and user.is_staff):
        return redirect(f"{reverse('admin:login')}?{REDIRECT_FIELD_NAME}={request.path}")
    verified_by = None if pending is not None else getattr(user, "otp_device", None)
    if pending is None and TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        messages.info(request, "Your authenticator app is set up already.")
        return redirect("admin:two_factor")
    if not authenticator_set_up_allowed(user=user, verified_by=verified_by):
        return _second_factor_first(request, pending)

    shown_id = request.session.get(SETUP_SESSION_KEY)
    device = services.authenticator_in_set_up(user=user, device_id=shown_id)
    form = AuthenticatorConfirmForm(request.POST or None)
    if device is None:
        # None shown to this session yet, or a newer set-up (another window or browser)
        # discarded it: a code is never checked against a key this session was not shown.
        form = AuthenticatorConfirmForm()
        device = _set_up_start(
            request, user=user, verified_by=verified_by, replaced=shown_id is not None
        )
    elif request.method == "POST" and form.is_valid():
        try:
            codes = services.authenticator_confirm(
                device=device,
                token=form.cleaned_data["otp_token"],
                verified_by=verified_by,
                request=request,
            )
        except ValidationError:
            return _second_factor_first(request, pending)
        if codes is not None:
            return _set_up_done(request, device=device, codes=codes, pending=pending)
        form.add_error("otp_token", "That code is not right. Check the phone's clock is set.")
    return admin_page_render(
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


def _set_up_start(
    request: HttpRequest, *, user: User, verified_by: Device | None, replaced: bool
) -> TOTPDevice:
    """A new key for this session to show (``replaced``: the one it was shown is gone)."""
    if replaced:
        messages.warning(
            request,
            "The set-up was started again in another window or browser, which replaced "
            "this one. Scan the new code below.",
        )
    device = services.authenticator_start(user=user, verified_by=verified_by)
    request.session[SETUP_SESSION_KEY] = device.pk
    return device


def _set_up_done(
    request: HttpRequest, *, device: TOTPDevice, codes: list[str], pending: PendingSignIn | None
) -> HttpResponse:
    """The authenticator is confirmed: the session verified by it (during sign-in, signed in),
    and the new recovery codes shown, this once."""
    request.session.pop(SETUP_SESSION_KEY, None)
    device.refresh_from_db()
    if pending is not None:
        pending_sign_in_finish(request=request, pending=pending, device=device)
        next_url = pending.next_url
    else:
        otp_login(request, device)
        next_url = reverse("admin:two_factor")
    return _recovery_codes_page(request, codes=codes, next_url=next_url)


def _recovery_codes_page(request: HttpRequest, *, codes: list[str], next_url: str) -> HttpResponse:
    return admin_page_render(
        request,
        "admin/access/recovery_codes.html",
        {"title": "Your recovery codes", "codes": codes, "next_url": next_url},
    )


def _second_factor_first(request: HttpRequest, pending: PendingSignIn | None) -> HttpResponse:
    if pending is not None:  # the code page of the sign-in under way
        return redirect("admin:second_factor")
    messages.error(request, services.SECOND_FACTOR_FIRST)
    return redirect("admin:two_factor")


def two_factor(request: HttpRequest) -> HttpResponse:
    """The signed-in user's own page: their second factor and recovery codes."""
    user = signed_in_user(request)
    authenticator = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    verified_by = getattr(user, "otp_device", None)
    return admin_page_render(
        request,
        "admin/access/two_factor.html",
        {
            "title": "Two-factor sign-in",
            "authenticator": authenticator,
            "codes_left": services.recovery_codes_left(user=user),
            "required": second_factor_required(user),
            "verified": verified_by is not None,
            "set_up_allowed": authenticator_set_up_allowed(user=user, verified_by=verified_by),
            # A recovery-code session gives the app's code with its request for new codes.
            "code_form": (
                AuthenticatorConfirmForm(auto_id="new-codes-%s")
                if isinstance(verified_by, StaticDevice)
                else None
            ),
        },
    )


@sensitive_post_parameters("otp_token")
@require_POST
def recovery_codes_new(request: HttpRequest) -> HttpResponse:
    """Replace the signed-in user's recovery codes: only in a session verified by a code.

    A session verified by a recovery code posts a code from the authenticator app as well
    (``otp_token``); ``services.recovery_codes_replace`` says why.
    """
    try:
        codes = services.recovery_codes_replace(
            user=signed_in_user(request),
            verified_by=getattr(request.user, "otp_device", None),
            authenticator_token="".join(request.POST.get("otp_token", "").split()),
            request=request,
        )
    except ValidationError as error:
        messages.error(request, error.messages[0])
        return redirect("admin:two_factor")
    return _recovery_codes_page(request, codes=codes, next_url=reverse("admin:two_factor"))


def _grouped(key: str) -> str:
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))
