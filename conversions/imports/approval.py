"""Four-eyes approval of large status changes.

A job whose change set reaches ``IMPORT_APPROVAL_MIN_CONVERSIONS`` conversions (default
10,000), or moves at least ``IMPORT_APPROVAL_MIN_PAYOUT`` in a currency (``"USD:5000,EUR:4500"``,
or one amount for every currency; default off), cannot be confirmed by the user who uploaded it
(or asked for it): only by another user with the permission "Can approve large status changes"
(``conversions.approve_large_status_change``). The rule is decided when the job is checked and
kept on the job (``approval_required``, ``approval_reason``), so the preview can say who may
confirm and why.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from conversions.change_sets import ChangeSetMoney
from conversions.models import ImportJob

APPROVE_PERMISSION = "conversions.approve_large_status_change"


def approval_min_payout() -> dict[str, Decimal]:
    """``IMPORT_APPROVAL_MIN_PAYOUT`` by currency (``"*"`` for an amount without one)."""
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
    return amounts


def approval_reason(*, conversions: int, money: ChangeSetMoney) -> str:
    """Why a change set needs a second person's approval, or "" when it does not."""
    reasons = []
    minimum = int(settings.IMPORT_APPROVAL_MIN_CONVERSIONS)
    if minimum and conversions >= minimum:
        reasons.append(f"it changes {conversions:,} conversions (approval from {minimum:,})")
    thresholds = approval_min_payout()
    for currency, moved in sorted(money.payout_by_currency().items()):
        limit = thresholds.get(currency, thresholds.get("*"))
        if limit is not None and moved >= limit:
            reasons.append(
                f"it moves {moved:,.2f} {currency} of payout (approval from {limit:,.2f})"
            )
    return "; ".join(reasons)


def may_confirm(import_job: ImportJob, user: Any) -> bool:
    """Whether ``user`` may confirm the job: anyone who may import, unless it needs approval;
    then only another user than its uploader, with the approve permission."""
    if not import_job.approval_required:
        return True
    if getattr(user, "pk", None) is None:
        return False
    return user.pk != import_job.user_id and user.has_perm(APPROVE_PERMISSION)


def confirm_refusal(import_job: ImportJob, user: Any) -> str:
    """Why ``user`` may not confirm the job ("" when they may), as the preview says it."""
    if may_confirm(import_job, user):
        return ""
    if getattr(user, "pk", None) == import_job.user_id:
        return (
            f"This change needs a second person's approval ({import_job.approval_reason}): "
            "another user with the permission “Can approve large status changes” must "
            "confirm it, not the one who uploaded it."
        )
    return (
        f"This change needs approval ({import_job.approval_reason}): only a user with the "
        "permission “Can approve large status changes” may confirm it."
    )
