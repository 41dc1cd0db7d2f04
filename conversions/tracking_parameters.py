"""What ``/click/`` and ``/postback/`` read from their parameters, and the rules each value
must meet before the database is touched (``conversions.views`` reads the raw parameters and
answers JSON; ``conversions.tracking`` records).

Every text value: at most ``TRACKING_MAX_PARAM_LENGTH`` characters (and never more than its
column keeps), printable (no control characters), given once. GoKart's names come with our
older ones as aliases (``pub_member_id`` / ``sub``, ``cnv_event_id`` / ``event``,
``cnv_conversion_id`` / ``txn_id``): either may be sent, both at once is refused like a repeated
name, since the two could disagree.

Names we do not read are ignored, as they always were (a partner's link may carry its own
``utm_*``, an advertiser's postback anything its platform adds), GoKart's other ``pub_*`` names
(``pub_session_id``, ``pub_gender``…) included. The numbered families are the exception:
``pub_sub_16``, ``pub_sub_0`` or ``cnv_sub_6`` look exactly like a value we keep, so dropping
one silently would lose a partner's or advertiser's data without a word; they are refused,
naming the range.

``cnv_email`` is personal data: it is dropped unless ``TRACKING_KEEP_CNV_EMAIL`` is on, and then
stored (``Conversion.cnv_email``), shown masked, never exported nor sent in a callback, and
masked in logged URLs (``gokart.log_redaction``).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from conversions.amounts import AmountRefused, amount_parse

PUB_SUBS = 15  # pub_sub_1 … pub_sub_15 on a click
CNV_SUBS = 5  # cnv_sub_1 … cnv_sub_5 on a postback
COLUMN_LENGTH = 255  # the text columns that keep these values
EMAIL_LENGTH = 254


class BadParameter(Exception):
    """A parameter that cannot be taken: a 400 with this message, nothing recorded."""


Parameters = dict[str, list[str]]


def parameter_value(
    parameters: Parameters, name: str, *, required: bool = False, posted: bool = False
) -> str:
    """One parameter ("" when optional and absent): repeated (also once in the query and once
    in the body), overlong or containing control characters is an error: a request must say one
    thing unambiguously. ``posted`` names the form body in the "missing" message."""
    values = parameters.get(name, [])
    if len(values) > 1:
        raise BadParameter(f"Parameter {name!r} is repeated.")
    value = values[0] if values else ""
    if not value:
        if required:
            where = " (query string or form-encoded body)" if posted else ""
            raise BadParameter(f"Missing parameter {name!r}{where}.")
        return ""
    limit = min(settings.TRACKING_MAX_PARAM_LENGTH, COLUMN_LENGTH)
    if len(value) > limit:
        raise BadParameter(f"Parameter {name!r} is longer than {limit} characters.")
    if not value.isprintable():
        raise BadParameter(f"Parameter {name!r} contains control characters.")
    return value


def aliased_value(parameters: Parameters, name: str, alias: str) -> str:
    """GoKart's ``name`` or our ``alias`` for it, whichever is sent ("" for neither); both is a
    400, even when they agree."""
    if name in parameters and alias in parameters:
        raise BadParameter(
            f"Parameters {name!r} and {alias!r} are both given: {alias!r} is another name for "
            f"{name!r}, send one of them."
        )
    return parameter_value(parameters, name if name in parameters else alias)


def numbered_values(parameters: Parameters, prefix: str, count: int) -> tuple[str, ...]:
    """``prefix1`` … ``prefixN`` ("" for each not sent); any other ``prefix…`` name is a 400."""
    known = {f"{prefix}{number}" for number in range(1, count + 1)}
    for name in parameters:
        if name.startswith(prefix) and name not in known:
            raise BadParameter(
                f"Unknown parameter {name[:40]!r}: {prefix}1 to {prefix}{count} are accepted."
            )
    return tuple(parameter_value(parameters, f"{prefix}{n}") for n in range(1, count + 1))


@dataclass(frozen=True)
class ClickValues:
    """What a partner's click carries beyond its offer and partner (GoKart's ``pub_*``)."""

    pub_member_id: str = ""  # kept in Click.sub_id; ``sub`` is its alias
    pub_click_id: str = ""
    pub_subs: tuple[str, ...] = ()  # pub_sub_1 … pub_sub_15 as sent ("" when not)


def click_values_read(parameters: Parameters) -> ClickValues:
    """The click's values, or ``BadParameter``."""
    return ClickValues(
        pub_member_id=aliased_value(parameters, "pub_member_id", "sub"),
        pub_click_id=parameter_value(parameters, "pub_click_id"),
        pub_subs=numbered_values(parameters, "pub_sub_", PUB_SUBS),
    )


@dataclass(frozen=True)
class AdvertiserValues:
    """What an advertiser's postback says of the conversion beyond its ids (GoKart's
    ``cnv_*``), kept on the conversion and sent back in its callbacks."""

    amount: Decimal | None = None  # cnv_amount, the sale amount
    user_id: str = ""  # cnv_user_id
    ip_address: str | None = None  # cnv_conversion_ip_address
    email: str = ""  # cnv_email, only when TRACKING_KEEP_CNV_EMAIL
    subs: tuple[str, ...] = ()  # cnv_sub_1 … cnv_sub_5 as sent ("" when not)

    def columns(self) -> dict[str, object]:
        """The conversion's columns these fill."""
        subs = self.subs or ("",) * CNV_SUBS
        return {
            "cnv_amount": self.amount,
            "cnv_user_id": self.user_id,
            "cnv_conversion_ip_address": self.ip_address,
            "cnv_email": self.email,
            **{f"cnv_sub_{n}": value for n, value in enumerate(subs, start=1)},
        }


def advertiser_values_read(parameters: Parameters) -> AdvertiserValues:
    """The postback's ``cnv_*`` values (its ids aside), or ``BadParameter``."""
    # Not even read when it is not kept: a postback is never refused for a value it drops.
    keep_email = settings.TRACKING_KEEP_CNV_EMAIL
    return AdvertiserValues(
        amount=_amount(parameter_value(parameters, "cnv_amount")),
        user_id=parameter_value(parameters, "cnv_user_id"),
        ip_address=_ip_address(parameter_value(parameters, "cnv_conversion_ip_address")),
        email=_email(parameter_value(parameters, "cnv_email")) if keep_email else "",
        subs=numbered_values(parameters, "cnv_sub_", CNV_SUBS),
    )


_SCIENTIFIC = re.compile(r"[+-]?[0-9.]*[eE][+-]?[0-9]+")


def _amount(value: str) -> Decimal | None:
    if not value:
        return None
    if _SCIENTIFIC.fullmatch(value):
        raise BadParameter(
            f"Parameter 'cnv_amount' {value[:40]!r} is in scientific notation: send the sale "
            "amount in plain digits with a point, like 49.99."
        )
    try:
        return amount_parse(value, column="Parameter 'cnv_amount'")
    except AmountRefused as error:
        raise BadParameter(error.message) from error


def _ip_address(value: str) -> str | None:
    if not value:
        return None
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        address = None
    # A scope ("fe80::1%eth0") names an interface of the advertiser's machine, not an address.
    if address is None or "%" in value:
        raise BadParameter(
            f"Parameter 'cnv_conversion_ip_address' {value[:40]!r} is not an IP address: send "
            "an IPv4 or IPv6 address, like 203.0.113.42."
        )
    return str(address)


def _email(value: str) -> str:
    if not value:
        return ""
    if len(value) > EMAIL_LENGTH:
        raise BadParameter(f"Parameter 'cnv_email' is longer than {EMAIL_LENGTH} characters.")
    try:
        validate_email(value)
    except ValidationError as error:
        # Personal data: the message does not repeat it.
        raise BadParameter("Parameter 'cnv_email' is not an email address.") from error
    return value
