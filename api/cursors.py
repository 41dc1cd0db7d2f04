"""Opaque, signed cursors for keyset pagination: a cursor carries the last id a page showed,
signed with SECRET_KEY (``django.core.signing``), so a client cannot forge a position, and a
tampered cursor is refused (400 ``invalid_cursor``) instead of read."""

from __future__ import annotations

from django.core import signing

from api.problems import ApiProblem

_SALT = "api.conversions.cursor"


def cursor_for(*, last_id: int) -> str:
    """The cursor of the page after the one ending at ``last_id`` (newest first)."""
    return signing.dumps({"before": last_id}, salt=_SALT)


def cursor_position(cursor: str) -> int:
    """The id the next page starts below; a 400 problem for a cursor we did not sign."""
    try:
        data = signing.loads(cursor, salt=_SALT)
        before = int(data["before"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise ApiProblem(
            400,
            "invalid_cursor",
            "Invalid cursor",
            "Pass back next_cursor exactly as a previous page gave it.",
        ) from None
    return before
