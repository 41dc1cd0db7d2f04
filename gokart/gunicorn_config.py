"""gunicorn settings for the web process: ``gunicorn -c python:gokart.gunicorn_config …``.

gunicorn answers some requests itself, before Django sees them: a request line longer than
``limit_request_line`` (414), too many or too large headers (431), a malformed request (400).
Its page is HTML; the public tracking endpoints promise JSON ``{"error": "…"}`` for every
error (DESIGN.md, "Public interface"), and those errors come from advertisers' servers that
parse JSON. The request line has not been read (or not understood) when gunicorn refuses it,
so the path is unknown: every such answer is JSON, the admin's too (a browser never sends one).

Its access and error logs mask postback tokens (``token=[masked]``) as Django's request logs
do (``gokart.log_redaction``): ``--access-logfile`` would otherwise write every GET postback's
token with its request line. The health probes (``/healthz``, ``/readyz``: ``gokart.health``),
polled every second by load balancers, are left out of the access log.

The tracking tier runs with the same file: ``gunicorn gokart.tracking.wsgi -c
python:gokart.gunicorn_config …`` (README, "Deploying").
"""

from __future__ import annotations

import json
import socket
from typing import Any

from gunicorn import util
from gunicorn.config import Config
from gunicorn.glogging import Logger

from gokart.health import HEALTH_PATHS
from gokart.log_redaction import TokensMasked

# gunicorn's own default, written down: a postback's parameters fit well within it (each is at
# most TRACKING_MAX_PARAM_LENGTH); longer ones should be POSTed as a form body.
limit_request_line = 4094


def json_error_write(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's ``util.write_error``, answering ``{"error": "…"}`` instead of HTML."""
    hint = " Send long parameters in a form-encoded POST body." if status_int == 414 else ""
    body = json.dumps({"error": f"{reason}: {mesg}".rstrip(": ") + "." + hint}).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


util.write_error = json_error_write


class TokensMaskedLogger(Logger):
    """gunicorn's logger, its access and error lines through ``TokensMasked``; health probes
    not logged."""

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if environ.get("PATH_INFO") in HEALTH_PATHS:
            return
        super().access(resp, req, environ, request_time)

    def setup(self, cfg: Config) -> None:
        super().setup(cfg)
        for log in (self.access_log, self.error_log):
            if not any(isinstance(existing, TokensMasked) for existing in log.filters):
                log.addFilter(TokensMasked())


logger_class = TokensMaskedLogger
