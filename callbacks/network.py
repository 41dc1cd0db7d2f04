"""Where callbacks may connect to: the SSRF guard, applied when a socket is opened.

A callback URL is the partner's to choose, so a careless or hostile one could point the
workers at the office network, the cloud metadata service or the database. Checking the URL
when it is saved is not enough (DNS can answer differently later, a redirect can point
elsewhere), so the check happens at connect time: the connection resolves the host itself,
checks every address it got, and connects to a checked address, never resolving twice. TLS
still verifies the certificate against, and sends SNI for, the host name of the URL. Redirects
are never followed and proxies from the environment are ignored.

Allowed: public unicast addresses only. Refused: loopback, private (RFC 1918, unique local),
link-local, shared CGNAT (100.64.0.0/10), multicast, reserved, unspecified, and the IPv6 forms
that carry an IPv4 address (IPv4-mapped, 6to4, NAT64) when that address is one of those. With
``CALLBACK_ALLOW_LOOPBACK`` (tests, local development) 127.0.0.0/8 and ::1 are allowed, and
nothing else.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util import connection as urllib3_connection

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_LOOPBACK_V4 = ipaddress.IPv4Network("127.0.0.0/8")
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))


class CallbackAddressRefused(Exception):  # noqa: N818 -- reads as what happened
    """The callback URL resolves to an address callbacks may not be sent to.

    Deliberately not an ``OSError``: urllib3 must not treat it as a connection error to retry.
    """


def address_refusal(address: str, *, allow_loopback: bool) -> str | None:
    """Why callbacks may not connect to ``address`` ("a private address"), or None if they may."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if allow_loopback and (
        (ip.version == 4 and ip in _LOOPBACK_V4) or ip == ipaddress.IPv6Address("::1")
    ):
        return None
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        # Judge the IPv4 address the packet would really reach (loopback never allowed here).
        kind = address_refusal(str(embedded), allow_loopback=False)
        return f"{kind} (as {ip})" if kind else None
    return _kind(ip)


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if any(ip in network for network in _NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _kind(ip: IPAddress) -> str | None:
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.version == 4 and ip in _CGNAT:
        return "a shared (CGNAT) address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        return "a non-public address"
    return None


def callback_url_literal_refusal(url: str) -> str | None:
    """The refusal for a URL whose host is an IP address callbacks may not reach, else None."""
    from urllib.parse import urlsplit

    try:
        host = urlsplit(url).hostname or ""
        kind = address_refusal(host, allow_loopback=settings.CALLBACK_ALLOW_LOOPBACK)
    except ValueError:  # a host name, not an address
        return None
    return f"Callback URL points to {kind} {host}: refused" if kind else None


def callback_addresses_resolve(host: str, port: int) -> list[tuple[Any, ...]]:
    """Resolve ``host`` and check every address; raise ``CallbackAddressRefused`` if any is
    refused (a host with one private address among public ones is refused as a whole)."""
    allow_loopback = settings.CALLBACK_ALLOW_LOOPBACK
    infos = socket.getaddrinfo(host.strip("[]"), port, 0, socket.SOCK_STREAM)
    for info in infos:
        address = str(info[4][0])
        kind = address_refusal(address, allow_loopback=allow_loopback)
        if kind:
            raise CallbackAddressRefused(f"Callback URL resolves to {kind} {address}: refused")
    return infos


class _GuardedConnectionMixin:
    """Replaces urllib3's ``_new_conn``: resolve once, check, connect to the checked address."""

    def _new_conn(self) -> socket.socket:
        try:
            infos = callback_addresses_resolve(self._dns_host, self.port)  # type: ignore[attr-defined]
        except socket.gaierror as error:
            raise NameResolutionError(self.host, self, error) from error  # type: ignore[attr-defined,arg-type]
        last_error: OSError | None = None
        for info in infos:
            try:
                # The checked literal: create_connection resolves nothing further.
                return urllib3_connection.create_connection(
                    (info[4][0], self.port),  # type: ignore[attr-defined]
                    self.timeout,  # type: ignore[attr-defined]
                    source_address=self.source_address,  # type: ignore[attr-defined]
                    socket_options=self.socket_options,  # type: ignore[attr-defined]
                )
            except TimeoutError as error:
                raise ConnectTimeoutError(
                    self,
                    f"Connection to {self.host} timed out. (connect timeout={self.timeout})",  # type: ignore[attr-defined]
                ) from error
            except OSError as error:
                last_error = error
        raise NewConnectionError(
            self,  # type: ignore[arg-type]
            f"Failed to establish a new connection: {last_error}",
        ) from last_error  # the cause names what happened (``callbacks.send_errors``)


class GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class _GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class _GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose every connection goes through the address check."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPConnectionPool,
            "https": _GuardedHTTPSConnectionPool,
        }


def callback_session() -> requests.Session:
    """A keep-alive session for one partner: guarded connections, no proxies, no redirects."""
    session = requests.Session()
    session.trust_env = False  # an HTTP(S)_PROXY from the environment would bypass the guard
    # Redirects: the caller passes allow_redirects=False (max_redirects=0 would make requests
    # raise on any 3xx, even unfollowed).
    adapter = GuardedAdapter(pool_connections=1, pool_maxsize=4, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
