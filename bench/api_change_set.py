"""``bench/api.py``'s bulk part: one JSON change set of ``--changes`` status changes created
through the Management API (``POST /api/v1/change-sets``), checked by a real Celery worker
(its own import queue), confirmed, and applied; the seconds from the POST to ``validated``
and from the confirmation to ``applied``, polled every 50 ms."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

POLL_SECONDS = 0.05
TIMEOUT_SECONDS = 900


def change_sets_served(port: int) -> bool:
    """Whether the API's OpenAPI document has the bulk change-set routes."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/api/v1/openapi.json")
    document = json.loads(connection.getresponse().read())
    connection.close()
    return "/api/v1/change-sets" in document.get("paths", {})


def worker_start(env: dict[str, str], queue: str, log: Path) -> subprocess.Popen:
    """A Celery worker of the import queue only (the callback dispatch messages stay unread)."""
    command = [
        str(Path(sys.executable).with_name("celery")),
        "-A",
        "gokart",
        "worker",
        "-Q",
        queue,
        "--pool=solo",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--loglevel=WARNING",
        f"--logfile={log}",
    ]
    return subprocess.Popen(
        command,
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        stdout=subprocess.DEVNULL,  # the banner; warnings go to the log file
        stderr=subprocess.STDOUT,
    )


def api_call(
    connection: http.client.HTTPConnection, method: str, path: str, token: str, body: Any = None
) -> tuple[int, dict]:
    headers = {"Authorization": f"ApiToken {token}"}
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    connection.request(method, path, body=payload, headers=headers)
    response = connection.getresponse()
    return response.status, json.loads(response.read() or b"{}")


def state_reached(
    connection: http.client.HTTPConnection,
    path: str,
    token: str,
    wanted: set[str],
    *,
    poll_seconds: float = POLL_SECONDS,
) -> dict:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        status, change_set = api_call(connection, "GET", path, token)
        if status != 200:
            raise SystemExit(f"GET {path}: HTTP {status} {change_set}")
        if change_set["state"] in wanted:
            return change_set
        if change_set["state"] in ("invalid", "failed"):
            raise SystemExit(f"change set {change_set['state']}: {change_set.get('error')}")
        time.sleep(poll_seconds)
    raise SystemExit(f"{path} not {wanted} within {TIMEOUT_SECONDS} s")


def change_set_timed(*, port: int, token: str, event_ids: list[int]) -> dict[str, float]:
    """Create, check, confirm and apply one change set setting ``event_ids`` to Rejected."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    body = {"changes": [{"EventId": pk, "Status": "Rejected"} for pk in event_ids]}
    started = time.perf_counter()
    status, created = api_call(connection, "POST", "/api/v1/change-sets", token, body)
    if status != 202:
        raise SystemExit(f"POST /api/v1/change-sets: HTTP {status} {created}")
    path = f"/api/v1/change-sets/{created['id']}"
    checked = state_reached(connection, path, token, {"validated"})
    checked_s = time.perf_counter() - started
    started = time.perf_counter()
    status, confirmed = api_call(connection, "POST", f"{path}/confirm", token, {})
    if status != 202:
        raise SystemExit(f"POST {path}/confirm: HTTP {status} {confirmed}")
    applied = state_reached(connection, path, token, {"applied"})
    applied_s = time.perf_counter() - started
    connection.close()
    print(
        f"change set of {len(event_ids)}: checked in {checked_s:.1f} s "
        f"(preview {json.dumps(checked.get('progress'))}), applied in {applied_s:.1f} s "
        f"(outcome {json.dumps(applied.get('outcome'))})",
        file=sys.stderr,
    )
    return {"checked_s": checked_s, "applied_s": applied_s}
