"""The public tracking endpoints: ``/click/…`` and ``/postback/``.

Their contract is public (DESIGN.md, "Public interface"): every error, 405 and unparsable
requests included, is JSON ``{"error": "…"}`` that an advertiser's or partner's engineer can act
on. The views only read parameters (what each takes: ``conversions.tracking_parameters``), and
count each request against the rate limits (``conversions.rate_limits``: 429 with
``Retry-After`` over them, before the database is touched); the rules live in
``conversions.tracking``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from urllib.parse import unquote_to_bytes

from django.conf import settings
from django.core.exceptions import BadRequest, SuspiciousOperation
from django.core.handlers.wsgi import get_bytes_from_wsgi
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from access.addresses import client_address
from callbacks.metrics.postback_counts import postback_outcome_count
from conversions.rate_limits import Endpoint, RateLimitRefusal, tracking_rate_limit_check
from conversions.test_click_tickets import CLICK_ID_HEADER, TICKET_PARAMETER, click_ticket_valid
from conversions.tracking import TrackingError, click_record, conversion_record_from_postback
from conversions.tracking_parameters import (
    BadParameter,
    Parameters,
    advertiser_values_read,
    aliased_value,
    click_values_read,
    parameter_value,
)

logger = logging.getLogger(__name__)

# Our own ids are 32 hex characters; accept any URL-safe id of the column's length.
_GK_CLICK_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _method_not_allowed(allowed: list[str]) -> JsonResponse:
    response = _error(f"Method not allowed: use {' or '.join(allowed)}.", 405)
    response["Allow"] = ", ".join(allowed)
    return response


class _TooLarge(Exception):
    pass


def _parameters(request: HttpRequest) -> Parameters:
    """Every parameter of the query string and (POST) of the form-encoded body, by name.

    Read from the raw bytes and decoded strictly, so that a percent-encoded byte that is not
    UTF-8 (``%FF``) is a 400 instead of a U+FFFD that would make two different ids one. The
    body is refused over ``TRACKING_MAX_BODY_BYTES`` before it is read (``Content-Length``),
    or once that much has been read (no length given); a multipart body at all (Django would
    write its files to disk first).
    """
    sources = [get_bytes_from_wsgi(request.META, "QUERY_STRING", "")]
    if request.method == "POST":
        content_type = request.META.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
        if content_type.startswith("multipart/"):
            raise BadParameter(
                "Multipart bodies are not accepted: send the parameters in the query string "
                "or as a form-encoded body (application/x-www-form-urlencoded)."
            )
        if content_type == "application/x-www-form-urlencoded":
            sources.append(_body_read(request))
    found: dict[str, list[str]] = {}
    for source in sources:
        for raw_name, raw_value in _pairs(source):
            try:
                name = raw_name.decode("utf-8")
                value = raw_value.decode("utf-8")
            except UnicodeDecodeError as error:
                shown = raw_name.decode("utf-8", "replace")[:40]
                raise BadParameter(
                    f"Parameter {shown!r} is not valid UTF-8 text once percent-decoded; "
                    "percent-encode the UTF-8 bytes of the value."
                ) from error
            found.setdefault(name, []).append(value)
    return found


def _pairs(source: bytes) -> list[tuple[bytes, bytes]]:
    """``name=value`` pairs of a query string or form body, percent-decoded to bytes."""
    fields = [field for field in source.split(b"&") if field]
    limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    if limit is not None and len(fields) > limit:
        raise BadParameter(f"Unreadable request: more than {limit:,} parameters.")
    pairs = []
    for field in fields:
        name, _, value = field.partition(b"=")
        pairs.append(
            (
                unquote_to_bytes(name.replace(b"+", b" ")),
                unquote_to_bytes(value.replace(b"+", b" ")),
            )
        )
    return pairs


def _body_read(request: HttpRequest) -> bytes:
    limit = settings.TRACKING_MAX_BODY_BYTES
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        raise _TooLarge
    body = request.read(limit + 1)
    if len(body) > limit:
        raise _TooLarge
    return body


def _rate_limited(refusal: RateLimitRefusal) -> JsonResponse:
    response = _error(refusal.message, 429)
    response["Retry-After"] = str(refusal.retry_after_seconds)
    return response


def _too_large() -> JsonResponse:
    limit = settings.TRACKING_MAX_BODY_BYTES
    return _error(
        f"Request body larger than {limit:,} bytes: a postback needs only its parameters.", 413
    )


def _positive_int(value: str, name: str) -> int:
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        raise BadParameter(f"{name} must be a positive integer, not {value[:40]!r}.")
    return int(value)


def _unreadable_request_guard(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Answer JSON 400 for a body Django refuses to parse (too big, too many fields, broken
    multipart) and JSON 500 for an unexpected failure, instead of Django's HTML pages."""

    def guarded(request: HttpRequest, *args: str, **kwargs: str) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except (SuspiciousOperation, MultiPartParserError, BadRequest) as error:
            return _error(f"Unreadable request: {error}", 400)
        except Exception:  # noqa: BLE001 -- a public API answers JSON even when it breaks
            logger.exception("Tracking request failed: %s", request.path)
            return _error("Internal error; nothing was recorded, please retry later.", 500)

    guarded.__name__ = view.__name__
    guarded.__doc__ = view.__doc__
    return guarded


@csrf_exempt  # a POST or PUT changes nothing: it gets the JSON 405, not the CSRF page
@never_cache
@_unreadable_request_guard
def click(request: HttpRequest, offer_id: str, partner_id: str) -> HttpResponse:
    """``GET /click/<offer_id>/<partner_id>/?pub_member_id=…&pub_click_id=…&pub_sub_1=…`` (``sub``
    is ``pub_member_id``'s alias): record a click, 302 to the landing URL. With a valid
    ``gk_test`` ticket (``conversions.test_click_tickets``) it is a test click, and the redirect
    names its ``gk_click_id`` in a header."""
    if request.method != "GET":
        return _method_not_allowed(["GET"])
    try:
        offer_pk = _positive_int(offer_id, "Offer id")
        partner_pk = _positive_int(partner_id, "Partner id")
        parameters = _parameters(request)
        values = click_values_read(parameters)
        ticket = parameter_value(parameters, TICKET_PARAMETER)
    except BadParameter as error:
        return _error(str(error), 400)
    is_test = bool(ticket)
    if is_test and not click_ticket_valid(ticket, offer_id=offer_pk, partner_id=partner_pk):
        return _error(
            f"Invalid {TICKET_PARAMETER}: test clicks are made from the offer's page.", 400
        )
    refusal = tracking_rate_limit_check(
        endpoint=Endpoint.CLICK, address=client_address(request), offer_key=str(offer_pk)
    )
    if refusal:
        return _rate_limited(refusal)
    try:
        recorded, landing_url = click_record(
            offer_id=offer_pk,
            partner_id=partner_pk,
            values=values,
            ip_address=request.META.get("REMOTE_ADDR") or None,
            is_test=is_test,
        )
    except TrackingError as error:
        return _error(error.message, error.status)
    response = HttpResponseRedirect(landing_url)
    if is_test:
        response[CLICK_ID_HEADER] = recorded.gk_click_id
    return response


def click_malformed(request: HttpRequest) -> JsonResponse:
    """Any other path under ``/click/``: say what the right one looks like."""
    return _error("Not found: clicks go to /click/<offer_id>/<partner_id>/?sub=<user id>.", 404)


@csrf_exempt  # called by advertisers' servers, authenticated by the offer's token
@never_cache
@_unreadable_request_guard
def postback(request: HttpRequest) -> JsonResponse:
    """``GET|POST /postback/?gk_click_id=…&event=…&txn_id=…&token=…`` (POST: form body too),
    with GoKart's ``cnv_*`` parameters too (``conversions.tracking_parameters``)."""
    response, outcome = _postback_answer(request)
    postback_outcome_count(outcome)
    return response


# The outcome label of /metrics' gokart_postbacks_total for each error status.
_ERROR_OUTCOMES = {400: "bad_request", 403: "bad_token", 404: "unknown_click", 405: "bad_method"}


def _postback_answer(request: HttpRequest) -> tuple[JsonResponse, str]:
    if request.method not in ("GET", "POST"):
        return _method_not_allowed(["GET", "POST"]), "bad_method"
    try:
        parameters = _parameters(request)
        posted = request.method == "POST"
        gk_click_id = parameter_value(parameters, "gk_click_id", required=True, posted=posted)
        event = aliased_value(parameters, "cnv_event_id", "event")
        transaction_id = aliased_value(parameters, "cnv_conversion_id", "txn_id")
        token = parameter_value(parameters, "token", required=True, posted=posted)
        advertiser_values = advertiser_values_read(parameters)
    except BadParameter as error:
        return _error(str(error), 400), "bad_request"
    except _TooLarge:
        return _too_large(), "too_large"
    if not _GK_CLICK_ID.fullmatch(gk_click_id):
        return (
            _error("Malformed gk_click_id: expected the id the click redirect gave.", 400),
            "bad_request",
        )
    refusal = tracking_rate_limit_check(
        endpoint=Endpoint.POSTBACK, address=client_address(request), offer_key=token
    )
    if refusal:
        return _rate_limited(refusal), "rate_limited"
    try:
        result = conversion_record_from_postback(
            gk_click_id=gk_click_id,
            event_code=event or None,
            transaction_id=transaction_id,
            token=token,
            advertiser_values=advertiser_values,
        )
    except TrackingError as error:
        return _error(error.message, error.status), _ERROR_OUTCOMES.get(error.status, "error")
    response = JsonResponse(
        {
            "conversion_id": result.conversion_id,
            "status": result.status,
            "duplicate": result.duplicate,
        }
    )
    return response, "duplicate" if result.duplicate else f"recorded_{result.status}"
