"""Partner callbacks: the network guard, one attempt's limits, retries, the outbox's claims, the
automatic pause, and who is told; ``/metrics``."""

from __future__ import annotations

from gokart.config import knob

# Each replaced secret signs until its own expiry.
PARTNER_SECRET_GRACE_HOURS = knob(
    "PARTNER_SECRET_GRACE_HOURS",
    24,
    "after a partner's signing secret is rotated, the replaced secret still signs this long",
)
# Private, link-local, CGNAT, multicast and reserved addresses are always refused.
CALLBACK_ALLOW_LOOPBACK = knob(
    "CALLBACK_ALLOW_LOOPBACK",
    False,
    "allow callback URLs on 127.0.0.0/8 and ::1 (tests, local development only)",
)
CALLBACK_CONNECT_TIMEOUT = knob(
    "CALLBACK_CONNECT_TIMEOUT", 5.0, "seconds to connect (within the attempt deadline)"
)
CALLBACK_READ_TIMEOUT = knob(
    "CALLBACK_READ_TIMEOUT",
    10.0,
    "seconds to wait for the partner's next bytes (within the attempt deadline)",
)
# The claim lease is at least twice this (callbacks.outbox).
CALLBACK_ATTEMPT_DEADLINE_SECONDS = knob(
    "CALLBACK_ATTEMPT_DEADLINE_SECONDS",
    15.0,
    "one attempt's hard limit, connecting, headers and "
    "body together; an answer not complete by then is retried",
)
CALLBACK_RETRY_FIRST_DELAY = knob(
    "CALLBACK_RETRY_FIRST_DELAY",
    120.0,
    "first retry after about this many seconds, then about doubling",
)
CALLBACK_RETRY_MAX_DELAY = knob(
    "CALLBACK_RETRY_MAX_DELAY", 12 * 3600.0, "longest wait between two attempts"
)
CALLBACK_RETRY_FOR = knob(
    "CALLBACK_RETRY_FOR", 3 * 24 * 3600.0, "retry for this long (3 days), then Failed"
)
CALLBACK_RETRY_AFTER_MAX = knob(
    "CALLBACK_RETRY_AFTER_MAX", 24 * 3600.0, "longest Retry-After honoured"
)
# bench/callbacks.py at 100,000 plus a resumed 100,000: 1,192-1,408/s and 1,335-1,500/s resumed
# with 100, against 1,044/s and 921/s with 50 in the same sitting; p99 at 100/s 71 ms against
# 91 ms. A worker that dies mid-batch leaves its deliveries due again when the lease ends.
CALLBACK_CLAIM_BATCH = knob(
    "CALLBACK_CLAIM_BATCH", 100, "deliveries a task claims per database round trip"
)
CALLBACK_LEASE_SECONDS = knob(
    "CALLBACK_LEASE_SECONDS", 120.0, "how long a claim holds its deliveries"
)
CALLBACK_DISPATCH_MAX_SECONDS = knob(
    "CALLBACK_DISPATCH_MAX_SECONDS",
    60.0,
    "how long one dispatch task keeps sending before handing over",
)
CALLBACK_AUTO_PAUSE_AFTER = knob(
    "CALLBACK_AUTO_PAUSE_AFTER",
    24 * 3600.0,
    "pause a partner once every attempt has failed for this many seconds…",
)
CALLBACK_AUTO_PAUSE_MIN_ATTEMPTS = knob(
    "CALLBACK_AUTO_PAUSE_MIN_ATTEMPTS", 10, "…and at least this many in a row"
)
CALLBACK_DISPATCH_COALESCE_MS = knob(
    "CALLBACK_DISPATCH_COALESCE_MS",
    500,
    "postbacks queue at most one dispatch per this window "
    "while none has started (Redis brokers only)",
)
# callbacks.dispatch: the admin, the API and the workers queue a dispatch on every commit that
# owes callbacks; the tracking tier (gokart/tracking/settings.py) hands them to a thread.
CALLBACK_DISPATCH_DEFER_MS = 0
TRACKING_CALLBACK_DISPATCH_DEFER_MS = knob(
    "TRACKING_CALLBACK_DISPATCH_DEFER_MS",
    20,
    "the tracking tier queues a callback dispatch at once when idle, then at most once per "
    "this many ms per process while postbacks keep committing (0: on every commit)",
)
ADMINS = [
    (name.strip(), address.strip(" >"))
    for name, _, address in (
        entry.partition("<")
        for entry in knob(
            "ADMINS", "", "who is emailed when a partner is paused: Ops <ops@example.com>, …"
        ).split(",")
        if "<" in entry
    )
]
METRICS_TOKEN = knob(
    "METRICS_TOKEN", "", "bearer token of GET /metrics; unset, the endpoint answers 404"
)
# `make run`'s demo callback receiver (`manage.py callback_receiver`).
DEMO_RECEIVER_PORT = knob("RECEIVER_PORT", 8001, "port of make run's demo callback receiver")
