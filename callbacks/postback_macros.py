"""Templated partner postbacks: the macros a postback URL may hold, checking a template when it
is saved, and filling one.

A partner's postback URL (the global one, ``Partner.postback_url``, and one per offer event,
``PartnerEventPostback``) is an http(s) URL with macros such as
``https://partner.example/pb?click={gk_click_id}&amount={payout}&st={status}``. Each macro is
replaced by its value, URL-encoded as a whole (``quote(value, safe="")``: ``&``, ``#``, ``/``,
``=``, spaces and non-ASCII are all escaped, UTF-8), so no value can add a parameter or cut the
URL; an empty value (a reason on a Success) fills in as nothing.

:data:`MACROS` is the one list of macros: a name, where its value is read (a path from the
``StatusChange`` the postback is owed for, as the ORM spells it), what it means and an example.
The payload renderer (``callbacks.payloads``), the admin's preview and its help all read it;
a new field (the click's and postback's GoKart parameters) is one more line here.

A template is checked when saved (:func:`postback_template_validate`): at most
:data:`POSTBACK_TEMPLATE_MAX_LENGTH` characters, every ``{`` closed by a ``}`` with a known
macro between, an http or https URL once filled, no macro in the scheme or host, and a host
the network guard accepts (``callbacks.network``: an address typed in the URL, and a host name
that resolves to a refused address; a name that does not resolve yet is accepted and checked
again at every send).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from callbacks.callback_fields import (
    CHANGE_PAYOUT,
    CHANGE_REVENUE,
    CNV_SUBS,
    EVENT_SEQUENCE,
    PUB_SUBS,
)

POSTBACK_TEMPLATE_MAX_LENGTH = 2000


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _moment(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _unix(value: datetime | None) -> str:
    return "" if value is None else str(int(value.timestamp()))


def _status(value: str | None) -> str:
    return (value or "").capitalize()


def _reward_sent(value: str | None) -> str:
    return "true" if value == "success" else "false"


@dataclass(frozen=True)
class Macro:
    """One macro: ``{name}`` is filled with ``text(value at source)``."""

    name: str
    # The value's path from the status change (ORM spelling); "" for the delivery's own id;
    # a name of callbacks.callback_fields.ANNOTATED for one of its annotations.
    source: str
    meaning: str
    example: str
    text: Callable[[Any], str] = _text


MACROS: tuple[Macro, ...] = (
    Macro(
        "callback_id",
        "",
        "this postback's id, the same on every retry",
        "3f0c9a2e-5b1d-4c8e-9f7a-2d6b1e0c4a57",
    ),
    Macro("gk_click_id", "conversion__click__gk_click_id", "our click id", "gk_7Hq2xK9mPq"),
    Macro("sub", "conversion__click__sub_id", "the partner's user/sub id", "user-42"),
    Macro("pub_member_id", "conversion__click__sub_id", "GoKart's name for sub", "user-42"),
    Macro("gk_offer_id", "conversion__offer_id", "the offer's id", "12"),
    Macro("gk_offer_name", "conversion__offer__name", "the offer's name", "Spring Sale"),
    Macro("event_id", "conversion__offer_event_id", "the offer event's id", "31"),
    Macro("event_code", "conversion__offer_event__code", "the offer event's code", "install"),
    Macro("event_name", "conversion__offer_event__name", "the offer event's name", "Install"),
    Macro("conversion_id", "conversion_id", "the Conversion Event ID", "184467"),
    Macro(
        "transaction_id",
        "conversion__transaction_id",
        "the advertiser's transaction id",
        "T-9001",
    ),
    Macro("status", "new_status", "Pending, Success or Rejected", "Success", _status),
    Macro("reason", "reason", "the status change's reason", "Fraud review"),
    Macro("payout", CHANGE_PAYOUT, "the partner's payout as this change left it", "1.5000"),
    Macro("revenue", CHANGE_REVENUE, "the network's revenue as this change left it", "2.0000"),
    Macro("currency", "conversion__offer__currency", "the offer's currency", "USD"),
    Macro(
        "status_change_number",
        "sequence_number",
        "the conversion's status-change counter (1 for its first status; the JSON callback's "
        "statusChangeNumber)",
        "2",
    ),
    Macro(
        "status_changed_at",
        "created_at",
        "when the status changed (UTC)",
        "2026-12-07T10:00:00.000Z",
        _moment,
    ),
    Macro("status_changed_unix", "created_at", "the same, Unix seconds", "1796637600", _unix),
    Macro(
        "conversion_time",
        "conversion__created_at",
        "when the conversion was recorded (UTC)",
        "2026-12-07T09:59:00.000Z",
        _moment,
    ),
    Macro(
        "click_time",
        "conversion__click__created_at",
        "when the click was made (UTC)",
        "2026-12-07T09:58:00.000Z",
        _moment,
    ),
    # GoKart's callback fields (callbacks.callback_fields says what each carries).
    Macro(
        "user_completed_at",
        "conversion__created_at",
        "GoKart's userCompletedAt: when the conversion was recorded (UTC)",
        "2026-12-07T09:59:00.000Z",
        _moment,
    ),
    Macro(
        "is_reward_sent",
        "new_status",
        "GoKart's isRewardSent: true on a Success, else false",
        "true",
        _reward_sent,
    ),
    Macro(
        "sequence_number",
        EVENT_SEQUENCE,
        "GoKart's sequenceNumber: the event's place in a multi-event offer, empty on a "
        "single-event one",
        "2",
    ),
    Macro("partner_id", "conversion__partner_id", "the partner's id", "7"),
    Macro("partner_name", "conversion__partner__name", "the partner's name", "RewardsApp"),
    Macro(
        "offer_advertiser_name", "conversion__offer__advertiser", "the offer's advertiser", "Acme"
    ),
    Macro("pub_click_id", "conversion__click__pub_click_id", "the partner's click id", "pc-81"),
    *(
        Macro(f"pub_sub_{n}", f"conversion__click__pub_sub_{n}", f"the click's pub_sub_{n}", "")
        for n in PUB_SUBS
    ),
    Macro("cnv_event_id", "conversion__offer_event__code", "the event code sent", "install"),
    Macro(
        "cnv_conversion_id",
        "conversion__transaction_id",
        "the advertiser's conversion (transaction) id",
        "T-9001",
    ),
    Macro("cnv_amount", "conversion__cnv_amount", "the sale amount (cnv_amount)", "49.9900"),
    Macro("cnv_user_id", "conversion__cnv_user_id", "the advertiser's user id", "adv-5"),
    Macro(
        "cnv_conversion_ip_address",
        "conversion__cnv_conversion_ip_address",
        "the conversion's IP address",
        "203.0.113.42",
    ),
    *(
        Macro(f"cnv_sub_{n}", f"conversion__cnv_sub_{n}", f"the postback's cnv_sub_{n}", "")
        for n in CNV_SUBS
    ),
)
MACRO_NAMES = frozenset(macro.name for macro in MACROS)
# The distinct paths to read for a status change (several macros may share one).
MACRO_SOURCES = tuple(dict.fromkeys(macro.source for macro in MACROS if macro.source))

_MACRO = re.compile(r"\{([^{}]*)\}")


def macro_values(*, callback_id: str, read: Mapping[str, Any]) -> dict[str, str]:
    """Every macro's text, from ``read`` (source path -> value, as the ORM read it)."""
    return {
        macro.name: callback_id if not macro.source else macro.text(read.get(macro.source))
        for macro in MACROS
    }


def macro_examples() -> dict[str, str]:
    """Every macro filled with its example (the test postback's values)."""
    return {macro.name: macro.example for macro in MACROS}


def postback_url_fill(template: str, values: Mapping[str, str]) -> str:
    """The template with each macro replaced by its value, URL-encoded as a whole."""
    return _MACRO.sub(lambda match: quote(values.get(match[1], ""), safe=""), template)


def _brace_problem(template: str) -> str | None:
    opened: int | None = None
    for position, char in enumerate(template, start=1):
        if char == "{":
            if opened is not None:
                return f"The {{ at character {opened} is not closed before the next {{."
            opened = position
        elif char == "}":
            if opened is None:
                return f"The }} at character {position} closes no {{."
            opened = None
    if opened is not None:
        return f"The {{ at character {opened} is never closed by a }}."
    return None


def postback_template_problem(template: str) -> str | None:
    """Why ``template`` cannot be saved (see the module docstring), or None."""
    if len(template) > POSTBACK_TEMPLATE_MAX_LENGTH:
        return (
            f"The postback URL is {len(template):,} characters long: at most "
            f"{POSTBACK_TEMPLATE_MAX_LENGTH:,} are allowed."
        )
    problem = _brace_problem(template)
    if problem:
        return problem
    unknown = sorted({name for name in _MACRO.findall(template) if name not in MACRO_NAMES})
    if unknown:
        names = ", ".join(f"{{{name}}}" for name in unknown)
        return f"Unknown macro {names}: the macros are " + ", ".join(
            f"{{{macro.name}}}" for macro in MACROS
        )
    parts = urlsplit(template)
    if "{" in parts.scheme or "{" in parts.netloc:
        return "A macro cannot be part of the scheme or host: the host must be fixed."
    try:
        URLValidator(schemes=["http", "https"])(_MACRO.sub("x", template))
    except ValidationError:
        return (
            "Enter a full http:// or https:// URL, "
            "for example https://partner.example/pb?click={gk_click_id}."
        )
    default_port = 443 if parts.scheme.lower() == "https" else 80
    try:
        port = parts.port or default_port
    except ValueError:
        return "The postback URL's port is not a port number (1 to 65535)."
    return _host_refusal(parts.hostname or "", port)


def _host_refusal(host: str, port: int) -> str | None:
    from callbacks.network import (
        CallbackAddressRefused,
        callback_addresses_resolve,
        callback_url_literal_refusal,
    )

    refusal = callback_url_literal_refusal(f"http://{host}/")
    if refusal:
        return refusal.replace("Callback URL", "Postback URL", 1)
    try:
        callback_addresses_resolve(host, port)
    except CallbackAddressRefused as error:
        return str(error).replace("Callback URL", "Postback URL", 1)
    except (OSError, UnicodeError):
        return None  # not resolvable now: checked again when each postback connects
    return None


def postback_template_validate(template: str) -> None:
    """Model and form validator: raise ``ValidationError`` with the template's problem."""
    problem = postback_template_problem(template or "")
    if problem:
        raise ValidationError(problem, code="invalid")


# A header name is an HTTP token (RFC 9110); these are set by GoKart itself.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_OURS = frozenset(
    {
        "content-type",
        "content-length",
        "host",
        "user-agent",
        "connection",
        "transfer-encoding",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
)


def header_name_validate(name: str) -> None:
    """Refuse a static header name that is not an HTTP token, or one GoKart sets itself."""
    if not name:
        return
    if "\r" in name or "\n" in name:
        raise ValidationError("A header name cannot contain a line break.", code="invalid")
    if not _TOKEN.fullmatch(name):
        raise ValidationError(
            f"“{name}” is not a header name: use letters, digits and hyphens, "
            "for example X-Api-Token.",
            code="invalid",
        )
    if name.lower() in _OURS:
        raise ValidationError(
            f"{name} is set by GoKart itself: choose another name.", code="invalid"
        )


def header_value_validate(value: str) -> None:
    """Refuse a static header value that would break the request (a line break, a control)."""
    if any(ord(char) < 32 or ord(char) == 127 for char in value.replace("\t", "")):
        raise ValidationError(
            "A header value cannot contain a line break or a control character.", code="invalid"
        )
    if not value.isascii():
        raise ValidationError("A header value must be ASCII text.", code="invalid")
    if len(value) > 1000:
        raise ValidationError("A header value can be at most 1,000 characters.", code="invalid")
