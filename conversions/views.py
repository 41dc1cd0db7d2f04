"""The public tracking endpoints: ``/click/…`` and ``/postback/``."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from conversions.tracking import TrackingError, click_record, conversion_record_from_postback


class _BadParameter(Exception):
    pass


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _param(request: HttpRequest, name: str, *, required: bool = True) -> str | None:
    """One parameter from the query string or form body; repeated or overlong is an error."""
    values = request.GET.getlist(name) + (
        request.POST.getlist(name) if request.method == "POST" else []
    )
    if len(values) > 1:
        raise _BadParameter(f"Parameter {name!r} is repeated.")
    if not values or values[0] == "":
        if required:
            raise _BadParameter(f"Missing parameter {name!r}.")
        return None
    value = values[0]
    if len(value) > settings.TRACKING_MAX_PARAM_LENGTH:
        raise _BadParameter(
            f"Parameter {name!r} is longer than {settings.TRACKING_MAX_PARAM_LENGTH} characters."
        )
    if not value.isprintable():
        raise _BadParameter(f"Parameter {name!r} contains control characters.")
    return value


def _positive_int(value: str, name: str) -> int:
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        raise _BadParameter(f"{name} must be a positive integer.")
    return int(value)


@require_GET
def click(request: HttpRequest, offer_id: str, partner_id: str) -> HttpResponse:
    try:
        offer_pk = _positive_int(offer_id, "offer id")
        partner_pk = _positive_int(partner_id, "partner id")
        sub_id = _param(request, "sub", required=False) or ""
    except _BadParameter as error:
        return _error(str(error), 400)
    try:
        _, landing_url = click_record(
            offer_id=offer_pk,
            partner_id=partner_pk,
            sub_id=sub_id,
            ip_address=request.META.get("REMOTE_ADDR"),
        )
    except TrackingError as error:
        return _error(error.message, error.status)
    return HttpResponseRedirect(landing_url)


@csrf_exempt  # called by advertisers' servers, authenticated by the offer's token
@require_http_methods(["GET", "POST"])
def postback(request: HttpRequest) -> JsonResponse:
    try:
        gk_click_id = _param(request, "gk_click_id")
        event = _param(request, "event", required=False)
        transaction_id = _param(request, "txn_id", required=False) or ""
        token = _param(request, "token")
    except _BadParameter as error:
        return _error(str(error), 400)
    assert gk_click_id is not None and token is not None
    if not gk_click_id.replace("-", "").replace("_", "").isalnum():
        return _error("Malformed gk_click_id.", 400)
    try:
        result = conversion_record_from_postback(
            gk_click_id=gk_click_id,
            event_code=event,
            transaction_id=transaction_id,
            token=token,
        )
    except TrackingError as error:
        return _error(error.message, error.status)
    return JsonResponse(
        {
            "conversion_id": result.conversion.pk,
            "status": result.conversion.status,
            "duplicate": result.duplicate,
        }
    )
