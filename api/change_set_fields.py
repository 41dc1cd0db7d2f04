"""A change set as the API answers it (``api.schemas.ChangeSetOut``), read from the job and the
engine's own summary (``ImportSummary``, ``ChangeSetMoney``): nothing is counted again here.

Nothing is reported done that was not applied: ``outcome`` is null until the job is applied,
and ``state`` is the job's own.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.http import HttpRequest

from api.change_sets import change_set_page_url, change_set_url
from conversions.change_sets.money import ChangeSetMoney, MoneyLine
from conversions.change_sets.outcomes import Outcome
from conversions.change_sets.summary import ImportSummary
from conversions.models import ImportJob
from conversions.reports.formulas import formula_escape

State = ImportJob.State
# Steps that are over: their bar is full.
_DONE = (State.VALIDATED, State.CHECKED, State.APPLIED, State.INVALID)


def change_set_fields(request: HttpRequest, job: ImportJob) -> dict[str, Any]:
    summary = ImportSummary.from_json(job.summary)
    reverted_by = ImportJob.objects.filter(reverts=job).values_list("pk", flat=True).first()
    return {
        "id": job.pk,
        "url": change_set_url(request, job),
        "page_url": change_set_page_url(request, job),
        "kind": job.kind,
        "state": job.state,
        "name": job.original_name,
        "origin": job.origin,
        "created_at": job.created_at,
        "created_by": job.user.get_username() if job.user else None,
        "confirmed_by": job.confirmed_by.get_username() if job.confirmed_by else None,
        "confirmed_at": job.confirmed_at,
        "send_callbacks": job.send_callbacks,
        "progress": _progress(job),
        "approval": {"required": job.approval_required, "reason": job.approval_reason},
        "preview": _preview(summary, send_callbacks=job.send_callbacks) if summary else None,
        "outcome": _applied(summary) if summary and job.state == State.APPLIED else None,
        "error": job.error_message,
        "reverts": job.reverts_id,
        "reverted_by": reverted_by,
    }


def _progress(job: ImportJob) -> dict[str, int]:
    done, total = job.progress_done, job.progress_total
    if not total:  # nothing counted: a step that is over is whole
        return {"done": done, "total": total, "percent": 100 if job.state in _DONE else 0}
    return {"done": done, "total": total, "percent": min(100, done * 100 // total)}


def _preview(summary: ImportSummary, *, send_callbacks: bool) -> dict[str, Any]:
    money = ChangeSetMoney.from_json(summary.money)
    by_partner = [_line(line, callbacks=send_callbacks) for line in money.by_partner]
    return {
        "rows": summary.rows,
        "will_change": summary.will_change,
        "will_change_total": summary.will_change_total,
        "unchanged": summary.unchanged,
        "not_found": summary.not_found,
        "invalid": summary.invalid,
        "conflicting": summary.conflicting,
        "rejected_rows": summary.rejected_rows,
        "first_errors": [asdict(error) for error in summary.errors],
        "money": {
            "transitions": [_line(line) for line in money.transitions],
            "by_partner": by_partner,
            "by_offer": [_line(line) for line in money.by_offer],
            "amounts": [_line(line) for line in money.amounts],
        },
        "amounts": summary.amounts,
        "callbacks": sum(line["callbacks"] for line in by_partner),
    }


def _line(line: MoneyLine, *, callbacks: bool = True) -> dict[str, Any]:
    """A money line; its callbacks none when the change set sends none."""
    return {**asdict(line), "callbacks": line.callbacks if callbacks else 0}


def _applied(summary: ImportSummary) -> dict[str, Any] | None:
    if summary.applied is None:
        return None
    return {
        "applied": summary.applied,
        "applied_total": summary.applied_total,
        "changed_since_preview": summary.changed_since_preview,
        "callbacks": summary.callbacks,
    }


def outcome_fields(outcome: Outcome) -> dict[str, Any]:
    return asdict(outcome)


def outcome_row(outcome: Outcome) -> list[Any]:
    """One line of the outcomes' CSV (``routes.change_sets.OUTCOME_CSV_HEADER``)."""
    texts = (outcome.event_id, outcome.gk_click_id, outcome.old_status, outcome.new_status)
    return [
        outcome.outcome,
        outcome.row or "",
        *(formula_escape(text) for text in texts),
        formula_escape(outcome.reason),
        formula_escape(outcome.message),
        outcome.new_payout,
        outcome.new_revenue,
    ]
