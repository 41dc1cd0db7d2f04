"""What went wrong with a send, in words an admin acts on.

``requests`` wraps urllib3, which wraps the socket or TLS error that really happened; the
outermost exception's text is a repr soup ("HTTPConnectionPool(host=…): Max retries exceeded
…"). This walks the chain to the cause and names it with the partner's host: "Connection
refused by 127.0.0.1:8001", "No answer within 10 s", "TLS certificate does not match
partner.example", "Could not resolve partner.example".
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Iterator
from urllib.parse import urlsplit

import requests
from django.conf import settings
from urllib3.exceptions import NameResolutionError

from callbacks.network import AttemptDeadline


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error, then what it wraps (``reason``, ``__cause__``, ``__context__``, args)."""
    seen: set[int] = set()
    todo: list[BaseException] = [error]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for inner in (
            getattr(current, "reason", None),
            current.__cause__,
            current.__context__,
            *current.args,
        ):
            if isinstance(inner, BaseException):
                todo.append(inner)


def _host_port(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    host = parts.hostname or url
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = 443 if parts.scheme == "https" else 80
    return host, f"{host}:{port}"


def _tls_reason(error: ssl.SSLError, host: str) -> str:
    if isinstance(error, ssl.SSLCertVerificationError):
        message = (error.verify_message or str(error)).lower()
        if "hostname mismatch" in message or "doesn't match" in message or error.verify_code == 62:
            return f"TLS certificate does not match {host}."
        if "expired" in message:
            return f"TLS certificate of {host} has expired."
        if "self-signed" in message or "self signed" in message:
            return f"TLS certificate of {host} is self-signed (not trusted)."
        return f"TLS certificate of {host} is not trusted ({error.verify_message or 'unverified'})."
    return f"TLS handshake with {host} failed ({error.reason or 'protocol error'})."


def send_error_describe(
    error: requests.RequestException, *, url: str, connect_timeout: float, read_timeout: float
) -> str:
    """One sentence saying why the send got no HTTP answer (never an exception's repr)."""
    host, host_port = _host_port(url)
    if isinstance(error, requests.ConnectTimeout):
        return f"Could not connect to {host_port} within {connect_timeout:g} s."
    if isinstance(error, requests.Timeout):
        return f"No answer within {read_timeout:g} s."
    causes = list(_causes(error))

    def first(kind: type[BaseException] | tuple[type[BaseException], ...]) -> BaseException | None:
        return next((cause for cause in causes if isinstance(cause, kind)), None)

    # Most specific first: urllib3's connection errors are themselves TimeoutErrors.
    if tls := first(ssl.SSLError):
        return _tls_reason(tls, host)  # type: ignore[arg-type]
    if first((NameResolutionError, socket.gaierror)):
        return f"Could not resolve {host}."
    if first(ConnectionRefusedError):
        return f"Connection refused by {host_port}."
    if first(ConnectionResetError):
        return f"Connection reset by {host_port}."
    if first(http.client.RemoteDisconnected):
        return f"{host_port} closed the connection without answering."
    plain = [cause for cause in causes if type(cause) in (TimeoutError, socket.timeout)]
    if plain:
        return f"No answer within {read_timeout:g} s."
    failed = next(
        (cause for cause in causes if isinstance(cause, OSError) and cause.strerror), None
    )
    if isinstance(failed, OSError):
        return f"Connection to {host_port} failed: {failed.strerror}."
    if isinstance(error, requests.ConnectionError):
        return f"Connection to {host_port} failed."
    return f"Request to {host_port} failed ({type(error).__name__})."


def attempt_error_describe(
    error: requests.RequestException, *, url: str, deadline: AttemptDeadline, status: int | None
) -> str:
    """One sentence saying why an attempt got no usable answer: when the attempt's deadline has
    passed, that (the error is then only how the cut showed; ``status`` when the headers had
    come), else ``send_error_describe`` with the configured timeouts."""
    if deadline.passed:
        came = f" (HTTP {status} came, its body did not end)" if status is not None else ""
        return f"No complete answer within {deadline.seconds:g} s{came}."
    return send_error_describe(
        error,
        url=url,
        connect_timeout=settings.CALLBACK_CONNECT_TIMEOUT,
        read_timeout=settings.CALLBACK_READ_TIMEOUT,
    )
