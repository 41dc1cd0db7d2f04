"""Four-eyes approval of large changes, decided by the engine for every source.

A change set that changes at least ``IMPORT_APPROVAL_MIN_CONVERSIONS`` conversions (default
10,000), or moves at least ``IMPORT_APPROVAL_MIN_PAYOUT`` of payout in a currency, cannot be
confirmed by the person who asked for it: only by another user with the permission "Can approve
large status changes" (``conversions.approve_large_status_change``). That holds wherever the
change starts: a file, the selected-rows action, a revert, a conversion's own status buttons.

Splitting a change does not escape the rule: a user's own changes confirmed in the last
``IMPORT_APPROVAL_WINDOW_HOURS`` (default 24) count toward both thresholds, that is

- the jobs they asked for and confirmed themselves (a job someone else approved was seen by
  two people and does not count), and
- their single changes from a conversion's buttons or through the Management API (audit rows
  of source ``admin`` or ``api`` without a job, counted by the hour as they are recorded:
  ``conversions.own_changes``), so an API key cannot escape the rule one change at a time.

The decision is taken under a per-user advisory lock (``approval_lock``), so two confirmations by
one person at the same moment count each other. It is kept on the job (``approval_required``,
``approval_reason``) so that the preview says who may confirm and why, and it is taken again when
the asker confirms (their window may have filled meanwhile).

``IMPORT_APPROVAL_MIN_PAYOUT``: ``"USD:5000,EUR:4500,*:5000"``, or one amount for every currency.
A currency without a threshold of its own falls under the default: the ``*`` item, or else the
lowest amount listed (the safe side: an offer's currency, an ISO 4217 code, can be changed by
someone who may change offers, and must not lead out of approval).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.utils import timezone

from conversions.amounts import money as money_text
from conversions.change_sets.money import ChangeSetMoney
from conversions.models import ImportJob
from conversions.own_changes import own_changes_since_sql

APPROVE_PERMISSION = "conversions.approve_large_status_change"
# The namespace of the per-user advisory lock (a constant of our own; any int4 would do).
_APPROVAL_LOCK_SPACE = 0x4A0B


def approval_min_payout() -> dict[str, Decimal]:
    """``IMPORT_APPROVAL_MIN_PAYOUT`` by currency (``"*"``: the default for any other)."""
    amounts: dict[str, Decimal] = {}
    for item in str(settings.IMPORT_APPROVAL_MIN_PAYOUT or "").split(","):
        if not item.strip():
            continue
        currency, _, amount = item.strip().rpartition(":")
        try:
            amounts[currency.strip().upper() or "*"] = Decimal(amount.strip())
        except InvalidOperation as error:
            raise ImproperlyConfigured(
                f"IMPORT_APPROVAL_MIN_PAYOUT: {item.strip()!r} is not CURRENCY:AMOUNT "
                "(for example USD:5000,EUR:4500) or one AMOUNT."
            ) from error
    if amounts and "*" not in amounts:
        amounts["*"] = min(amounts.values())
    return amounts


def approval_payout_limit(
    currency: str, thresholds: dict[str, Decimal] | None = None
) -> Decimal | None:
    """The payout in ``currency`` from which a change needs a second person (None: no limit)."""
    thresholds = approval_min_payout() if thresholds is None else thresholds
    return thresholds.get(currency, thresholds.get("*"))


@dataclass(frozen=True)
class OwnChanges:
    """What one user changed on their own (no second person) within the window."""

    conversions: int = 0
    payout: dict[str, Decimal] | None = None

    def payout_in(self, currency: str) -> Decimal:
        return (self.payout or {}).get(currency, Decimal(0))


def approval_window_hours() -> int:
    return int(settings.IMPORT_APPROVAL_WINDOW_HOURS)


def approval_lock(user: Any) -> None:
    """Hold the user's approval lock until the transaction ends (no-op without a user)."""
    user_id = getattr(user, "pk", None)
    if user_id is None:
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_APPROVAL_LOCK_SPACE, user_id])


def own_changes_in_window(
    *, user: Any, now: datetime | None = None, excluding: ImportJob | None = None
) -> OwnChanges:
    """The changes ``user`` confirmed alone in the last ``IMPORT_APPROVAL_WINDOW_HOURS``
    (``excluding`` one job: the one being decided). One query: it runs under the user's
    approval lock, which every change of theirs waits for, so each round trip in it counts
    once per change of theirs."""
    user_id = getattr(user, "pk", None)
    hours = approval_window_hours()
    if user_id is None or hours <= 0:
        return OwnChanges()
    since = (now or timezone.now()) - timedelta(hours=hours)
    conversions = 0
    payout: dict[str, Decimal] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            _OWN_CHANGES_SQL,
            {
                "user_id": user_id,
                "since": since,
                "excluding": getattr(excluding, "pk", None),
            },
        )
        rows = cursor.fetchall()
    for changed, transitions, currency, count, moved in rows:
        if currency is None:  # a job they confirmed themselves
            conversions += int(_json(changed) or 0)
            money = ChangeSetMoney.from_json({"transitions": _json(transitions) or []})
            for job_currency, job_moved in money.payout_by_currency().items():
                payout[job_currency] = payout.get(job_currency, Decimal(0)) + job_moved
        else:  # their single changes, by currency
            conversions += int(count)
            payout[currency] = payout.get(currency, Decimal(0)) + (moved or Decimal(0))
    return OwnChanges(conversions=conversions, payout=payout)


def _json(value: Any) -> Any:
    """A jsonb value as read (Django has psycopg hand it over as text)."""
    return json.loads(value) if isinstance(value, str) else value


# The jobs a user asked for (or that name no one) and confirmed themselves, then their single
# changes by the hour (``conversions.own_changes``). Of a job's summary, only what the rule
# counts: its money by partner and by offer can run to hundreds of lines, and was read and
# parsed on every single change of its user for a day.
_OWN_CHANGES_SQL = f"""
    SELECT j.summary -> 'will_change_total', j.summary -> 'money' -> 'transitions', NULL, NULL,
           NULL
    FROM conversions_importjob j
    WHERE j.confirmed_by_id = %(user_id)s AND (j.user_id = %(user_id)s OR j.user_id IS NULL)
      AND j.confirmed_at >= %(since)s
      AND (%(excluding)s::bigint IS NULL OR j.id <> %(excluding)s::bigint)
    UNION ALL
    SELECT NULL, NULL, hours.* FROM ({own_changes_since_sql()}) hours
"""  # noqa: S608 -- only our own SQL is interpolated


def approval_reason(
    *, conversions: int, money: ChangeSetMoney, own: OwnChanges | None = None
) -> str:
    """Why a change set needs a second person's approval, or "" when it does not. With
    ``own`` (the asker's changes in the window), the reason says when they are what made it
    necessary."""
    own = own or OwnChanges()
    window = approval_window_hours()
    reasons = []
    minimum = int(settings.IMPORT_APPROVAL_MIN_CONVERSIONS)
    total = conversions + own.conversions
    if minimum and conversions >= minimum:
        reasons.append(f"it changes {conversions:,} conversions (approval from {minimum:,})")
    elif minimum and conversions and total >= minimum:
        reasons.append(
            f"with the {own.conversions:,} conversions you changed in the last {window} hours "
            f"it makes {total:,} (approval from {minimum:,})"
        )
    thresholds = approval_min_payout()
    for currency, moved in sorted(money.payout_by_currency().items()):
        limit = approval_payout_limit(currency, thresholds)
        if limit is None or not moved:
            continue
        before = own.payout_in(currency)
        if moved >= limit:
            reasons.append(
                f"it moves {money_text(moved, currency)} of payout "
                f"(approval from {money_text(limit, currency)})"
            )
        elif moved + before >= limit:
            reasons.append(
                f"with the {money_text(before, currency)} of payout you moved in the last {window} "
                f"hours it moves {money_text(moved + before, currency)} "
                f"(approval from {money_text(limit, currency)})"
            )
    return "; ".join(reasons)


def change_set_approval_reason(
    *, user: Any, conversions: int, money: ChangeSetMoney, import_job: ImportJob | None = None
) -> str:
    """The approval a change asked for by ``user`` needs ("" for none), counting their own
    changes in the window. Call it inside the transaction that confirms or applies the change,
    after ``approval_lock(user)``."""
    own = own_changes_in_window(user=user, excluding=import_job)
    return approval_reason(conversions=conversions, money=money, own=own)


def may_confirm(import_job: ImportJob, user: Any) -> bool:
    """Whether ``user`` may confirm the job: anyone who may import, unless it needs approval;
    then only another user than the one who asked for it, with the approve permission. A job
    that needs approval and names no one who asked for it (a command run without ``--user``)
    cannot be confirmed: no one can show they are a second person."""
    if not import_job.approval_required:
        return True
    if getattr(user, "pk", None) is None or import_job.user_id is None:
        return False
    return user.pk != import_job.user_id and user.has_perm(APPROVE_PERMISSION)


def confirm_refusal(import_job: ImportJob, user: Any) -> str:
    """Why ``user`` may not confirm the job ("" when they may), as the preview says it."""
    if may_confirm(import_job, user):
        return ""
    if import_job.user_id is None:
        return (
            f"This change needs a second person's approval ({import_job.approval_reason}), "
            "but it names no one who asked for it: run the command again with --user NAME, "
            "and another user with the permission “Can approve large status changes” can "
            "confirm it here."
        )
    if getattr(user, "pk", None) == import_job.user_id:
        return (
            f"This change needs a second person's approval ({import_job.approval_reason}): "
            "another user with the permission “Can approve large status changes” must "
            "confirm it, not the one who asked for it."
        )
    return (
        f"This change needs approval ({import_job.approval_reason}): only a user with the "
        "permission “Can approve large status changes” may confirm it."
    )
