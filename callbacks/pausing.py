"""Pausing a partner's callbacks, by hand or automatically, and resuming them.

- **Paused**: the partner's due deliveries become *held* (``state = 'held'``): the claim never
  sees them (its index covers pending ones only), new ones owed meanwhile are written held
  (``callback_deliveries_insert_sql``), and a send that finds the partner paused hands its
  delivery back held, unsent. A held delivery's retry window does not run: on resume the time
  spent paused is added to its ``retrying_since``, so a partner that is down for a week loses
  nothing.
- **Automatic**: each batch's attempts extend or reset the partner's run of failures
  (``failing_since``, ``failed_attempts_in_a_row``; one small UPDATE, skipped when every
  attempt was delivered and there was no run). When every attempt has failed for
  ``CALLBACK_AUTO_PAUSE_AFTER`` and at least ``CALLBACK_AUTO_PAUSE_MIN_ATTEMPTS`` in a row, the
  partner is paused and the admins are emailed (``mail_admins``, after commit).
- **Resume**: the held deliveries become due now (a delivery still leased by a send keeps its
  lease) and go out under the claim's per-conversion ordering rule, in each conversion's order.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import mail_admins
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from callbacks.dispatch import callback_deliveries_dispatch_on_commit
from callbacks.models import CallbackDelivery, Partner
from callbacks.outbox import DELIVERED, Outcome

logger = logging.getLogger(__name__)

PENDING = CallbackDelivery.State.PENDING
HELD = CallbackDelivery.State.HELD


def partner_pause(*, partner_id: int, reason: str, user: Any = None) -> bool:
    """Pause the partner's callbacks (hold its due deliveries); False if it was paused."""
    now = timezone.now()
    with transaction.atomic():
        paused = Partner.objects.filter(pk=partner_id, paused_at__isnull=True).update(
            paused_at=now, pause_reason=reason
        )
        if not paused:
            return False
        held = CallbackDelivery.objects.filter(partner_id=partner_id, state=PENDING).update(
            state=HELD
        )
        who = getattr(user, "username", None) or "automatically"
        logger.warning("Partner %s paused %s: %s (%d held)", partner_id, who, reason, held)
        transaction.on_commit(lambda: _admins_tell_paused(partner_id, reason, held, user))
    return True


def partner_resume(*, partner_id: int, user: Any = None) -> int:
    """Resume the partner's callbacks; returns how many held deliveries are due again.

    Each held delivery is due now, its retry window lengthened by the time spent paused; the
    partner's run of failures starts afresh.
    """
    now = timezone.now()
    with transaction.atomic():
        partner = Partner.objects.select_for_update().get(pk=partner_id)
        if partner.paused_at is None:
            return 0
        with connection.cursor() as cursor:
            cursor.execute(
                """
                UPDATE callbacks_callbackdelivery
                SET state = 'pending',
                    next_attempt_at = CASE WHEN lease_expires_at > %(now)s THEN next_attempt_at
                                           ELSE %(now)s END,
                    retrying_since = retrying_since + (%(now)s - %(paused_at)s)
                WHERE partner_id = %(partner)s AND state = 'held'
                """,
                {"now": now, "paused_at": partner.paused_at, "partner": partner_id},
            )
            resumed = cursor.rowcount
        partner.paused_at = None
        partner.pause_reason = ""
        partner.failing_since = None
        partner.failed_attempts_in_a_row = 0
        partner.save(
            update_fields=["paused_at", "pause_reason", "failing_since", "failed_attempts_in_a_row"]
        )
        logger.info(
            "Partner %s resumed by %s (%d held callbacks due)",
            partner_id,
            getattr(user, "username", "system"),
            resumed,
        )
    if resumed:
        callback_deliveries_dispatch_on_commit()
    return resumed


_STREAK_SQL = """
    UPDATE callbacks_partner p
    SET failed_attempts_in_a_row = CASE WHEN v.delivered THEN 0
                                        ELSE p.failed_attempts_in_a_row + v.failures END,
        failing_since = CASE WHEN v.delivered THEN NULL
                             ELSE COALESCE(p.failing_since, v.first_failure) END
    FROM unnest(%s::bigint[], %s::boolean[], %s::int[], %s::timestamptz[])
         AS v(id, delivered, failures, first_failure)
    WHERE p.id = v.id AND (NOT v.delivered OR p.failed_attempts_in_a_row > 0)
    RETURNING p.id, p.failed_attempts_in_a_row, p.failing_since, p.paused_at
"""


def partner_failure_runs_record(
    outcomes: Iterable[Outcome], *, partners: dict[int, Partner]
) -> None:
    """Extend or reset each partner's run of failed attempts from one batch, and pause the
    partners whose run has lasted ``CALLBACK_AUTO_PAUSE_AFTER`` (see the module docstring)."""
    runs: dict[int, list[Any]] = {}  # partner id -> [delivered, failures, first failure]
    for outcome in outcomes:
        if outcome.started_at is None:
            continue
        run = runs.setdefault(outcome.delivery.partner_id, [False, 0, outcome.started_at])
        if outcome.state == DELIVERED:
            run[0] = True
        else:
            run[1] += 1
            run[2] = min(run[2], outcome.started_at)
    changed = {
        partner_id: run
        for partner_id, run in runs.items()
        if not run[0] or partners[partner_id].failed_attempts_in_a_row > 0
    }
    if not changed:
        return
    columns = [list(changed), *([run[i] for run in changed.values()] for i in range(3))]
    with connection.cursor() as cursor:
        cursor.execute(_STREAK_SQL, columns)
        rows = cursor.fetchall()
    pause_after = timedelta(seconds=settings.CALLBACK_AUTO_PAUSE_AFTER)
    now = timezone.now()
    for partner_id, in_a_row, failing_since, paused_at in rows:
        if (
            paused_at is None
            and failing_since is not None
            and in_a_row >= settings.CALLBACK_AUTO_PAUSE_MIN_ATTEMPTS
            and now - failing_since >= pause_after
        ):
            partner_pause(
                partner_id=partner_id,
                reason=f"Every attempt failed since {failing_since:%Y-%m-%d %H:%M %Z} "
                f"({in_a_row} in a row).",
            )


def _admins_tell_paused(partner_id: int, reason: str, held: int, user: Any) -> None:
    partner = Partner.objects.get(pk=partner_id)
    who = f"by {user.get_username()}" if user is not None else "automatically"
    url = reverse("admin:callbacks_partner_change", args=[partner_id])
    try:
        mail_admins(
            f"Callbacks to {partner} paused {who}",
            f"Callbacks to {partner} ({partner.callback_url}) were paused {who}.\n\n"
            f"Reason: {reason}\n\n{held} due callbacks are held; new ones are held too. Nothing "
            "is lost and no retry window runs out while paused. Resume on the partner's page "
            f"({url}) once its endpoint answers again.",
        )
    except Exception:  # noqa: BLE001 -- a mail failure must not undo the pause
        logger.exception("Could not email the admins about paused partner %s", partner_id)
