"""The ticket that makes a click a test click (``conversions.test_conversions`` says why): what
the click endpoint checks, kept apart from the tool that signs it so that the tracking tier
imports neither the tool's HTTP client nor the approval rules."""

from __future__ import annotations

from django.core import signing

TICKET_PARAMETER = "gk_test"
TICKET_MAX_AGE = 120  # seconds
# The redirect of a test click names its gk_click_id in this header.
CLICK_ID_HEADER = "GoKart-Test-Click-Id"
# Unchanged since the ticket moved here: a ticket signed before still checks.
_TICKET_SALT = "conversions.test_conversions.click"


def click_ticket_sign(*, offer_id: int, partner_id: int) -> str:
    """The ``gk_test`` value that makes a click on this offer and partner a test click."""
    return signing.dumps([offer_id, partner_id], salt=_TICKET_SALT, compress=False)


def click_ticket_valid(ticket: str, *, offer_id: int, partner_id: int) -> bool:
    """Whether ``ticket`` was signed here for this offer and partner less than
    ``TICKET_MAX_AGE`` seconds ago."""
    try:
        signed = signing.loads(ticket, salt=_TICKET_SALT, max_age=TICKET_MAX_AGE)
    except signing.BadSignature:  # SignatureExpired is one
        return False
    return signed == [offer_id, partner_id]
