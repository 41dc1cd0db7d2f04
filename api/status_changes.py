"""A status change asked for with an API key: the change-set engine's own path
(``selection_status_set``, ``single=True``, ``source=api``), as the key's user.

The engine applies the change at once, or, when the approval rule says a second person must
see it, stages a job that waits for them: nothing changes then, and the API answers 202 with
the job's page. The audit row's user is the key's user and its source ``api``; the approval
window counts a user's single changes from the admin's buttons and the API alike, so a key
cannot escape four-eyes approval by making its changes one at a time.

The key's name goes in the audit row's reason (``"<reason> (API key: <name>)"``) rather than a
field of its own: the reason is already part of each audit row's hash and is shown wherever
the trail is read (a conversion's history, the API's), and a new column would change the one
audit writer and the hash chain for every source (``conversions.audit``).

``send_callbacks=False``: the audit row records that no callback is owed, and the partner is
sent none (a change waiting for approval keeps that wish when it is approved).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import reverse

from api.models import ApiKey
from api.selectors import conversions_for_api
from conversions.change_sets.selection import selection_status_set
from conversions.models import Conversion, ImportJob, Source

_BIGINT_MAX = 2**63 - 1


def api_reason(*, reason: str, api_key: ApiKey) -> str:
    """The audit reason of a change made with ``api_key``: the caller's reason, then the key."""
    via = f"(API key: {api_key.name})"
    return f"{reason.strip()} {via}" if reason.strip() else via


def api_origin(api_key: ApiKey) -> str:
    """Where a job the API made was asked for (``ImportJob.origin``): the key's name."""
    return f"Management API, key {api_key.name} ({api_key.prefix})"[:100]


@dataclass(frozen=True)
class ApiStatusChange:
    """What asking for the change did: ``changed`` it applied now; ``waiting_job`` the job
    that waits for a second person (nothing changed)."""

    conversion: Conversion
    changed: bool
    waiting_job: ImportJob | None = None


def api_status_set(
    *,
    conversion_id: int,
    status: str,
    reason: str,
    api_key: ApiKey,
    send_callbacks: bool = True,
) -> ApiStatusChange | None:
    """Set one conversion's status as ``api_key``'s user, through the engine (source
    ``api``); ``send_callbacks=False`` owes the partner no callback. ``None``: there is no
    such conversion (nothing was changed)."""
    if not 0 < conversion_id <= _BIGINT_MAX:  # no conversion's, and no bigint either
        return None
    outcome = selection_status_set(
        conversion_ids=[conversion_id],
        status=status,
        user=api_key.user,
        reason=api_reason(reason=reason, api_key=api_key),
        single=True,
        source=Source.API,
        send_callbacks=send_callbacks,
    )
    # The conversion as the answer shows it, read once, after the change: an id that is not
    # ours changed nothing (the engine finds no conversion to change) and is found here.
    conversion = conversions_for_api().filter(pk=conversion_id).first()
    if conversion is None:
        return None
    if outcome.waiting and outcome.job is not None:
        outcome.job.origin = api_origin(api_key)
        outcome.job.save(update_fields=["origin"])
        return ApiStatusChange(conversion=conversion, changed=False, waiting_job=outcome.job)
    return ApiStatusChange(conversion=conversion, changed=bool(outcome.result.changed))


def job_url(request: HttpRequest, job: ImportJob) -> str:
    """The absolute address of a change set's page (where a second person approves it)."""
    return request.build_absolute_uri(reverse("admin:conversions_importjob_change", args=[job.pk]))
