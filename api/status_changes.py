"""A status change asked for with an API key: the change-set engine's own path
(``selection_status_set``, ``single=True``), as the key's user.

The engine applies the change at once, or, when the approval rule says a second person must
see it, stages a job that waits for them: nothing changes then, and the API answers 202 with
the job's page. The audit row's user is the key's user; its source is ``admin`` (the engine's
source for a single change, which the approval window also counts: a key cannot escape
four-eyes approval by making its changes one at a time), and its reason names the key:
``"<reason> (API key: <name>)"``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import reverse

from api.models import ApiKey
from conversions.change_sets.selection import selection_status_set
from conversions.models import Conversion, ImportJob


def api_reason(*, reason: str, api_key: ApiKey) -> str:
    """The audit reason of a change made with ``api_key``: the caller's reason, then the key."""
    via = f"(API key: {api_key.name})"
    return f"{reason.strip()} {via}" if reason.strip() else via


@dataclass(frozen=True)
class ApiStatusChange:
    """What asking for the change did: ``changed`` it applied now; ``waiting_job`` the job
    that waits for a second person (nothing changed)."""

    conversion: Conversion
    changed: bool
    waiting_job: ImportJob | None = None


def api_status_set(
    *, conversion: Conversion, status: str, reason: str, api_key: ApiKey
) -> ApiStatusChange:
    """Set one conversion's status as ``api_key``'s user, through the engine."""
    outcome = selection_status_set(
        conversion_ids=[conversion.pk],
        status=status,
        user=api_key.user,
        reason=api_reason(reason=reason, api_key=api_key),
        single=True,
    )
    conversion.refresh_from_db()
    if outcome.waiting:
        return ApiStatusChange(conversion=conversion, changed=False, waiting_job=outcome.job)
    return ApiStatusChange(conversion=conversion, changed=bool(outcome.result.changed))


def job_url(request: HttpRequest, job: ImportJob) -> str:
    """The absolute address of a change set's page (where a second person approves it)."""
    return request.build_absolute_uri(reverse("admin:conversions_importjob_change", args=[job.pk]))
