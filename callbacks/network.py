"""Where callbacks may connect to (the SSRF guard, applied when a socket is opened), and for
how long (one deadline per attempt).

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

How long: one attempt has one deadline (:class:`AttemptDeadline`, set by the sender with
:func:`attempt_deadline`) over connecting, the TLS handshake, the headers and the body. The
per-step timeouts alone cannot end an answer that keeps coming (a partner's server trickling a
byte every 9 s never lets a 10 s read timeout expire), so every blocking step of these
connections is given at most the time left: the connect and the handshake, and each read of the
answer, whose socket timeout is set to ``min(read timeout, time left)`` before the read. (The
request itself, a signed JSON body, fits the socket's send buffer.) Name resolution is the
system resolver's, bounded by its own timeouts.
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
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
    refused (a host with one private address among public ones is refused as a whole).

    The refusal is shown to admins (the delivery's error, the test callback), so for a host
    name it says "a private address" and names neither the address nor its kind: anyone who
    may change a partner's URL could otherwise map the internal network, one name at a time.
    An address typed in the URL itself is named, as typed.
    """
    allow_loopback = settings.CALLBACK_ALLOW_LOOPBACK
    name = host.strip("[]")
    infos = socket.getaddrinfo(name, port, 0, socket.SOCK_STREAM)
    for info in infos:
        address = str(info[4][0])
        kind = address_refusal(address, allow_loopback=allow_loopback)
        if not kind:
            continue
        if _is_address(name):
            raise CallbackAddressRefused(f"Callback URL resolves to {kind} {address}: refused")
        raise CallbackAddressRefused(
            f"Callback URL host {name} resolves to a private address: refused"
        )
    return infos


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


class AttemptDeadlineReached(TimeoutError):  # noqa: N818 -- reads as what happened
    """The attempt's deadline passed before this step could start (a timeout, to urllib3)."""


class AttemptDeadline:
    """When one attempt must be over, on the monotonic clock."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends_at = time.monotonic() + seconds

    @property
    def passed(self) -> bool:
        return time.monotonic() >= self.ends_at

    def bound(self, timeout: float | None) -> float:
        """``timeout`` (None: none) cut to the time left; raises ``AttemptDeadlineReached`` when
        none is left."""
        left = self.ends_at - time.monotonic()
        if left <= 0:
            raise AttemptDeadlineReached(f"No complete answer within {self.seconds:g} s.")
        return left if timeout is None else min(timeout, left)


_deadline: ContextVar[AttemptDeadline | None] = ContextVar("callback_attempt", default=None)


@contextmanager
def attempt_deadline(seconds: float) -> Iterator[AttemptDeadline]:
    """Bound every connect and read of callback connections in this context (this thread) by
    one deadline ``seconds`` from now."""
    deadline = AttemptDeadline(seconds)
    token = _deadline.set(deadline)
    try:
        yield deadline
    finally:
        _deadline.reset(token)


def _bounded(timeout: float | None) -> float | None:
    deadline = _deadline.get()
    return timeout if deadline is None else deadline.bound(timeout)


class _DeadlineReads(io.RawIOBase):
    """The socket's reads for one response, each bounded by what is left of the attempt."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self._sock = sock
        self._raw = sock.makefile("rb", buffering=0)  # counts as the socket's open file
        self._read_timeout = sock.gettimeout()  # urllib3 has just set the read timeout

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        self._sock.settimeout(_bounded(self._read_timeout))
        return self._raw.readinto(buffer)

    def fileno(self) -> int:
        return self._raw.fileno()

    def close(self) -> None:
        self._raw.close()
        super().close()


class _DeadlineResponse(http.client.HTTPResponse):
    """http.client's response (status line, headers, body) read through ``_DeadlineReads``."""

    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        super().__init__(_DeadlineSocket(sock), *args, **kwargs)  # type: ignore[arg-type]


class _DeadlineSocket:
    """Just enough of a socket for ``HTTPResponse.__init__``, which only calls ``makefile``."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReads(self._sock))


class _GuardedConnectionMixin:
    """Replaces urllib3's ``_new_conn``: resolve once, check, connect to the checked address;
    and reads answers within the attempt's deadline."""

    response_class: type[http.client.HTTPResponse] = _DeadlineResponse

    def _new_conn(self) -> socket.socket:
        try:
            infos = callback_addresses_resolve(self._dns_host, self.port)  # type: ignore[attr-defined]
        except socket.gaierror as error:
            raise NameResolutionError(self.host, self, error) from error  # type: ignore[attr-defined,arg-type]
        last_error: OSError | None = None
        for info in infos:
            try:
                # The checked literal: create_connection resolves nothing further.
                sock = urllib3_connection.create_connection(
                    (info[4][0], self.port),  # type: ignore[attr-defined]
                    _bounded(self.timeout),  # type: ignore[attr-defined]
                    source_address=self.source_address,  # type: ignore[attr-defined]
                    socket_options=self.socket_options,  # type: ignore[attr-defined]
                )
                try:
                    # The TLS handshake and the request's send come next, on this timeout.
                    sock.settimeout(_bounded(self.timeout))  # type: ignore[attr-defined]
                except AttemptDeadlineReached:
                    sock.close()
                    raise
                return sock
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
