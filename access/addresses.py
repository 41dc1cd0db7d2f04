"""The client's address, as the sign-in audit and the lockout both see it."""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str | None:
    """REMOTE_ADDR; behind the TLS proxy, the last X-Forwarded-For entry instead.

    Only the last entry is the proxy's own: anything before it came from the client and can be
    forged. ``GOKART_TRUST_X_FORWARDED_FOR`` (default: ``GOKART_HTTPS``) says a proxy is there.
    """
    address = request.META.get("REMOTE_ADDR", "")
    if settings.GOKART_TRUST_X_FORWARDED_FOR:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded.strip():
            address = forwarded.split(",")[-1].strip()
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None
