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
# api/rate_limits.py: counted per key in Redis (the tracking limits' buckets); 429 with
# Retry-After over it; a Redis outage lets every request through.
API_RATE_LIMIT_PER_MINUTE = knob(
    "API_RATE_LIMIT_PER_MINUTE",
    1200,
    "requests per minute with one API key, all at once if it likes (429 beyond); 0 turns it off",
)
API_REQUEST_LOG_PER_KEY = knob(
    "API_REQUEST_LOG_PER_KEY",
    1000,
    "each API key's latest requests kept for its admin page (older ones trimmed by beat)",
)
