"""The delivery loop: claim due callbacks, send them, record what the partners answered.

:func:`callback_deliveries_deliver_due` runs in the dispatch task queued after each commit that
owes callbacks, and in the periodic sweep. Each round claims a batch (``callbacks.outbox``),
sends it outside any transaction (``callbacks.sending``) and records the outcomes
(``callbacks.outbox``), until nothing is due.

Ordering: a delivery is only claimed when no earlier delivery of the same conversion and kind
(JSON callback, global postback, event postback) is still pending, so a conversion's callbacks
of each kind go out one at a time in the order of its changes, and a Rejected never overtakes
the Success it revokes. When an earlier one ends Failed, the later ones
proceed (a partner that missed one orders by ``statusChangeNumber``; a Failed one resent later
carries its old, lower ``statusChangeNumber``, so the receiver can tell it is not the latest). A
resent one that is pending again holds back the conversion's newer pending ones until it is
settled.

Pausing: a partner whose every attempt keeps failing is paused automatically after each batch's
outcomes are recorded (``callbacks.pausing``); its deliveries are held, not claimed.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings

from callbacks.outbox import callback_deliveries_claim, callback_deliveries_record
from callbacks.pausing import partner_failure_runs_record
from callbacks.sending import callback_deliveries_send, partners_for_sending


def callback_deliveries_deliver_due(*, on_backlog: Callable[[], None] | None = None) -> int:
    """Claim and send due deliveries until none is left; returns how many attempts were made.

    ``on_backlog`` (the dispatch task passes "queue one more dispatch") is called when the
    first batch is full, so that a backlog (a bulk import's thousands of callbacks) is drained
    by every free worker, not one, and again when the loop hands over to a fresh task after
    ``CALLBACK_DISPATCH_MAX_SECONDS``.
    """
    started = time.monotonic()
    attempts = 0
    first = True
    while True:
        claimed = callback_deliveries_claim(limit=settings.CALLBACK_CLAIM_BATCH)
        if not claimed:
            return attempts
        full = len(claimed) >= settings.CALLBACK_CLAIM_BATCH
        if on_backlog is not None and first and full:
            on_backlog()
        first = False
        partners = partners_for_sending({delivery.partner_id for delivery in claimed})
        outcomes = callback_deliveries_send(claimed, partners=partners)
        callback_deliveries_record(outcomes)
        partner_failure_runs_record(outcomes, partners=partners)
        attempts += sum(1 for outcome in outcomes if outcome.started_at is not None)
        if full and time.monotonic() - started > settings.CALLBACK_DISPATCH_MAX_SECONDS:
            if on_backlog is not None:
                on_backlog()
            return attempts
