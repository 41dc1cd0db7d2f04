"""Test conversions: operations and QA record one from an offer's page, through the public
``/click/`` and ``/postback/`` over HTTP, so that it goes exactly where an advertiser's would
(the tracking tier, its checks, its one statement, the partner's callbacks and postbacks).

1. **The click** carries ``gk_test``, a ticket the admin signs for this offer and partner (Django's
   signing with ``SECRET_KEY``, which the tracking tier shares), good for ``TICKET_MAX_AGE``
   seconds (``conversions.test_click_tickets``). A click with a valid ticket is stored as a test
   click (``Click.is_test``), the mark its conversions carry: the conversion list filters on it and
   the overview names them. A click with a bad or stale ticket is refused (400): a partner cannot
   mark its own clicks. The redirect of a test click names its ``gk_click_id`` in the
   ``GoKart-Test-Click-Id`` header (a landing URL need not carry it).
2. **The postback** carries a token of its own: the tool cannot read the offer's token (only
   its digest is stored), so it adds a fresh token to those the offer accepts
   (``ReplacedPostbackToken``, the table the postback's statement reads), good for
   ``TOKEN_LIFETIME``, used once and deleted after. The offer's real token is never touched.

The conversion gets the status the offer gives any postback, its audit row and the partner's
callbacks. Its page shows them go out and rejects it in one click (``TEST_REJECTION_REASON``).

Four-eyes: a test conversion counts as its user's own change in the approval window
(``conversions.change_sets.approval``): one conversion, and the event's payout, counted before
the requests under the user's approval lock (taken back when an endpoint refused; kept when a
postback went unanswered, since it may have been recorded). The tool refuses a test whose payout
alone, or with the user's own changes in the window, would need a second person's approval:
tests must not add up to money that status changes could not move alone. Requests go through the
callbacks' network guard and deadline (``callbacks.network``), to ``TRACKING_PUBLIC_URL``, or
this admin's own address when it is blank.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from callbacks.network import CallbackAddressRefused, attempt_deadline, callback_session
from conversions.amounts import money
from conversions.change_sets.approval import approval_lock, change_set_approval_reason
from conversions.change_sets.money import ChangeSetMoney, MoneyLine
from conversions.models import Offer, OfferEvent, ReplacedPostbackToken, Status
from conversions.own_changes import own_changes_add
from conversions.test_click_tickets import CLICK_ID_HEADER, TICKET_PARAMETER, click_ticket_sign

TOKEN_LIFETIME = timedelta(minutes=2)
TEST_REJECTION_REASON = "Test conversion, rejected after the test."
# How long its page refreshes itself while a callback or postback of it is still due.
TEST_WATCH = timedelta(minutes=10)
_DEADLINE_SECONDS = 15.0


class RecordingRefused(Exception):  # noqa: N818 -- reads as what happened
    """The test conversion was not recorded; the message says why, for the admin."""


class PostbackUnanswered(RecordingRefused):
    """The postback was sent but no answer came: the tracking tier may have recorded it."""


@dataclass(frozen=True)
class RecordedTestConversion:
    conversion_id: int
    status: str


def conversion_test_record(
    *,
    offer: Offer,
    partner_id: int,
    member_id: str,
    event: OfferEvent,
    base_url: str,
    user: Any,
) -> RecordedTestConversion:
    """Click and postback through the public endpoints at ``base_url``, as ``user``'s own
    change; the conversion they recorded. Raises ``RecordingRefused`` with the endpoint's own
    error when one refuses, and before any request when the test needs a second person;
    ``PostbackUnanswered`` (still counted) when the postback got no answer."""
    now = timezone.now()
    _own_change_reserve(user=user, offer=offer, event=event, now=now)
    try:
        return _recorded(
            offer=offer, partner_id=partner_id, member_id=member_id, event=event, base_url=base_url
        )
    except PostbackUnanswered:
        raise  # it may have been recorded: it stays counted
    except RecordingRefused:
        own_changes_add(
            user_id=user.pk,
            currency=offer.currency,
            conversions=-1,
            payout=-event.payout,
            now=now,
        )
        raise


def _own_change_reserve(*, user: Any, offer: Offer, event: OfferEvent, now: datetime) -> None:
    """Count the test as ``user``'s own change in the window, or refuse it when that would
    need a second person (under the user's approval lock, as every change is decided)."""
    money_moved = ChangeSetMoney(
        transitions=[
            MoneyLine(
                label=f"->{Status.SUCCESS}",
                currency=offer.currency,
                conversions=1,
                payout=event.payout,
                revenue=event.revenue,
            )
        ]
    )
    with transaction.atomic():
        approval_lock(user)
        reason = change_set_approval_reason(user=user, conversions=1, money=money_moved)
        if reason:
            raise RecordingRefused(
                f"Event {event.code!r} pays {money(event.payout, offer.currency)}, and a test "
                f"conversion is your own change: it would need a second person's approval "
                f"({reason}). Test an event that pays less, or later."
            )
        own_changes_add(
            user_id=user.pk, currency=offer.currency, conversions=1, payout=event.payout, now=now
        )


def _recorded(
    *, offer: Offer, partner_id: int, member_id: str, event: OfferEvent, base_url: str
) -> RecordedTestConversion:
    base = base_url.rstrip("/")
    ticket = click_ticket_sign(offer_id=offer.pk, partner_id=partner_id)
    click = _tracking_get(
        f"{base}/click/{offer.pk}/{partner_id}/",
        {"pub_member_id": member_id, TICKET_PARAMETER: ticket},
        what="click",
    )
    gk_click_id = click.headers.get(CLICK_ID_HEADER, "")
    if click.status_code != 302 or not gk_click_id:
        raise RecordingRefused(_refusal("click", click))
    token = secrets.token_urlsafe(24)
    now = timezone.now()
    accepted = ReplacedPostbackToken.objects.create(
        offer=offer, token=token, replaced_at=now, expires_at=now + TOKEN_LIFETIME
    )
    try:
        postback = _tracking_get(
            f"{base}/postback/",
            {"gk_click_id": gk_click_id, "event": event.code, "token": token},
            what="postback",
        )
    except RecordingRefused as error:
        raise PostbackUnanswered(
            f"The postback endpoint did not answer ({error.__cause__}). The test may have been "
            f"recorded: look for click {gk_click_id} among the test conversions."
        ) from error.__cause__
    finally:
        accepted.delete()
    answer = _json(postback)
    if postback.status_code != 200 or "conversion_id" not in answer:
        raise RecordingRefused(_refusal("postback", postback))
    return RecordedTestConversion(
        conversion_id=int(answer["conversion_id"]),
        status=str(answer["status"]),
    )


def _tracking_get(url: str, params: dict[str, str], *, what: str) -> requests.Response:
    """GET one tracking endpoint, within one deadline, redirects not followed."""
    session = callback_session()
    try:
        with attempt_deadline(_DEADLINE_SECONDS):
            return session.get(
                url,
                params=params,
                timeout=(settings.CALLBACK_CONNECT_TIMEOUT, settings.CALLBACK_READ_TIMEOUT),
                allow_redirects=False,
            )
    except (CallbackAddressRefused, requests.RequestException) as error:
        raise RecordingRefused(
            f"The {what} endpoint could not be reached at {url} ({error}). Set "
            "TRACKING_PUBLIC_URL to the address advertisers reach the tracking tier at."
        ) from error
    finally:
        session.close()


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        answer = response.json()
    except ValueError:  # requests' JSONDecodeError is one
        return {}
    return answer if isinstance(answer, dict) else {}


def _refusal(what: str, response: requests.Response) -> str:
    error = _json(response).get("error") or response.reason or "no reason given"
    return f"The {what} endpoint answered HTTP {response.status_code}: {error}"
