"""The "Set status of selected conversions" action, recorded as a job of its own (kind
``action``: a page, no file), so that it can be reverted like an import.

The change is applied at once, in the request (the action is bounded), through the status
service with ``source=admin`` and the job on every audit row; the job keeps what it moved.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from conversions.change_sets import conversions_status_money
from conversions.imports.summary import ImportSummary
from conversions.models import ImportJob, Source, Status
from conversions.services import StatusChangeResult, conversion_status_set


def selection_status_set(
    *, conversion_ids: Sequence[int], status: str, user: Any, reason: str = ""
) -> tuple[ImportJob | None, StatusChangeResult]:
    """Set ``status`` on the selected conversions as one recorded job; returns the job (``None``
    when nothing changed: no job is kept) and what changed. Conversions already in ``status``
    are left alone (and not part of the job)."""
    ids = sorted({int(pk) for pk in conversion_ids})
    now = timezone.now()
    with transaction.atomic():
        money = conversions_status_money(conversion_ids=ids, status=status)
        job = ImportJob.objects.create(
            kind=ImportJob.Kind.ACTION,
            user=user,
            confirmed_by=user,
            confirmed_at=now,
            original_name=f"Set {len(ids):,} selected conversions to {Status(status).label}",
            state=ImportJob.State.APPLYING,
            apply_started_at=now,
        )
        result = conversion_status_set(
            conversion_ids=ids,
            status=status,
            source=Source.ADMIN,
            user=user,
            reason=reason,
            import_job=job,
        )
        if not result.changed:
            job.delete()  # no audit row names it
            return None, result
        transitions = {f"{old}->{new}": count for (old, new), count in result.transitions.items()}
        summary = ImportSummary(
            rows=len(ids),
            will_change=transitions,
            will_change_total=result.changed,
            unchanged=len(ids) - result.changed,
            staged=result.changed,
            reader="selection",
            money=money.to_json(),
            confirmed=True,
            confirmed_by=getattr(user, "username", None),
            applied=transitions,
            applied_total=result.changed,
            callbacks=result.callbacks,
        )
        job.summary = summary.to_json()
        job.state = ImportJob.State.APPLIED
        job.apply_finished_at = timezone.now()
        job.save(update_fields=["summary", "state", "apply_finished_at"])
    return job, result
