"""Tracking: what ``/click/`` and ``/postback/`` accept, and their rate limits."""

from __future__ import annotations

from gokart.config import knob

TRACKING_MAX_PARAM_LENGTH = knob(
    "TRACKING_MAX_PARAM_LENGTH", 255, "longest postback/click parameter"
)
TRACKING_MAX_BODY_BYTES = knob(
    "TRACKING_MAX_BODY_BYTES", 16 * 1024, "largest /postback/ body, refused (413) before it is read"
)
# Each replaced token is accepted until its own expiry.
OFFER_TOKEN_GRACE_HOURS = knob(
    "OFFER_TOKEN_GRACE_HOURS",
    24,
    "after a postback token rotation, the replaced token is still accepted this long",
)
# conversions/rate_limits.py: 429 with Retry-After over them; a Redis outage lets everything
# through; a rate of 0 turns that limit off.
TRACKING_RATE_LIMITS = knob(
    "TRACKING_RATE_LIMITS", True, "0 turns the rate limits of /click/ and /postback/ off"
)
TRACKING_RATE_PER_ADDRESS = knob(
    "TRACKING_RATE_PER_ADDRESS",
    50.0,
    "requests per second from one client address (IPv6: one /64; loopback exempt)",
)
TRACKING_BURST_PER_ADDRESS = knob(
    "TRACKING_BURST_PER_ADDRESS", 200, "requests at once from one client address"
)
TRACKING_RATE_PER_OFFER = knob(
    "TRACKING_RATE_PER_OFFER", 2000.0, "requests per second for one offer (postbacks: per token)"
)
TRACKING_BURST_PER_OFFER = knob("TRACKING_BURST_PER_OFFER", 4000, "requests at once for one offer")
TRACKING_RATE_LEASE_MS = knob(
    "TRACKING_RATE_LEASE_MS",
    50,
    "a busy process takes its next this-many ms of rate-limit tokens in one Redis trip (0: off)",
)
# gokart/tracking/settings.py: the tracking tier's processes lend each request one of these.
TRACKING_DATABASE_POOL_SIZE = knob(
    "TRACKING_DATABASE_POOL_SIZE",
    4,
    "PostgreSQL connections each tracking-tier process keeps in its pool (at least its threads)",
)
# conversions/tracking_parameters.py: personal data, dropped unless kept; kept, it is shown
# masked and never exported nor sent to partners.
TRACKING_KEEP_CNV_EMAIL = knob(
    "TRACKING_KEEP_CNV_EMAIL",
    False,
    "1 keeps a postback's cnv_email (shown masked, never exported nor sent); else dropped",
)
# conversions/test_conversions.py: the offer page's test conversion tool calls /click/ and
# /postback/ here, through the callbacks' network guard.
TRACKING_PUBLIC_URL = knob(
    "TRACKING_PUBLIC_URL",
    "",
    "where the test conversion tool reaches /click/ and /postback/; blank: the admin's address",
)
