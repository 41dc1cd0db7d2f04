"""The Management API (``api/``, README "Management API")."""

from __future__ import annotations

from gokart.config import knob

API_MAX_BODY_BYTES = knob(
    "API_MAX_BODY_BYTES",
    64 * 1024,
    "request bodies over this many bytes are refused (413) before they are read",
)
API_KEY_LAST_USE_SECONDS = knob(
    "API_KEY_LAST_USE_SECONDS",
    60,
    "an API key's last use is written at most once per this many seconds",
)
API_IDEMPOTENCY_HOURS = knob(
    "API_IDEMPOTENCY_HOURS",
    24,
    "how long an Idempotency-Key's first answer is kept to be given again",
)
