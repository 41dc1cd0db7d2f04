"""Our own routes, in the project's words: conversions with keyset (cursor) pagination, one
conversion with its status history, a status change through the change-set engine."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.responses import Status as Answer
from pydantic import Field

from api.auth import key_required
from api.cursors import cursor_for, cursor_position
from api.iso_dates import IsoDateTime
from api.models import Scope
from api.problems import conversion_not_found
from api.schemas import (
    ApprovalPending,
    ConversionDetail,
    ConversionPage,
    OurStatus,
    Problem,
    StatusChangeIn,
    StatusChangeOutcome,
)
from api.selectors import conversion_fields, conversions_for_api, status_history
from api.status_changes import api_status_set, job_url
from conversions.models import Conversion, Source
from conversions.selectors import conversion_ids_matching

router = Router(tags=["Conversions"])

READ_PERMISSION = "conversions.view_conversion"
WRITE_PERMISSION = "conversions.change_conversion_status"
_ERRORS = {400: Problem, 401: Problem, 403: Problem, 404: Problem, 422: Problem}


class ConversionListQuery(Schema):
    status: OurStatus | None = None
    source: Source | None = Field(default=None, description="Where the status last came from.")
    search: str | None = Field(
        default=None,
        max_length=255,
        description="Exactly a Conversion Event ID, a gk_click_id, an advertiser transaction id "
        "or a partner's user/sub id (as the admin list's search).",
    )
    offer: int | None = Field(default=None, description="An offer's id.")
    partner: int | None = Field(default=None, description="A partner's id.")
    created_from: IsoDateTime | None = Field(default=None, description="Created at or after.")
    created_to: IsoDateTime | None = Field(default=None, description="Created before.")
    cursor: str | None = Field(default=None, description="next_cursor of the previous page.")
    limit: int = Field(default=50, ge=1, le=100)


@router.get(
    "/conversions",
    response={200: ConversionPage, **_ERRORS},
    summary="List conversions, newest first",
    description="Keyset pagination on the id: every page reads one index range, however deep.",
)
def conversions_list(request: HttpRequest, query: Query[ConversionListQuery]) -> dict:
    key_required(request, scope=Scope.CONVERSIONS_READ, permission=READ_PERMISSION)
    rows = conversions_for_api().order_by("-id")
    if query.cursor is not None:
        rows = rows.filter(id__lt=cursor_position(query.cursor))
    if query.status is not None:
        rows = rows.filter(status=query.status)
    if query.source is not None:
        rows = rows.filter(status_source=query.source)
    if query.search:
        rows = rows.filter(pk__in=sorted(conversion_ids_matching(term=query.search)))
    if query.offer is not None:
        rows = rows.filter(offer_id=query.offer)
    if query.partner is not None:
        rows = rows.filter(partner_id=query.partner)
    if query.created_from is not None:
        rows = rows.filter(created_at__gte=query.created_from)
    if query.created_to is not None:
        rows = rows.filter(created_at__lt=query.created_to)
    found = list(rows[: query.limit + 1])
    page = found[: query.limit]
    more = len(found) > query.limit
    return {
        "items": [conversion_fields(c) for c in page],
        "next_cursor": cursor_for(last_id=page[-1].pk) if more else None,
    }


def _conversion(conversion_id: int) -> Conversion:
    conversion = conversions_for_api().filter(pk=conversion_id).first()
    if conversion is None:
        raise conversion_not_found(f"No conversion {conversion_id}.")
    return conversion


@router.get(
    "/conversions/{conversion_id}",
    response={200: ConversionDetail, **_ERRORS},
    summary="One conversion with its status history",
)
def conversion_detail(request: HttpRequest, conversion_id: int) -> dict:
    key_required(request, scope=Scope.CONVERSIONS_READ, permission=READ_PERMISSION)
    conversion = _conversion(conversion_id)
    return {**conversion_fields(conversion), "history": status_history(conversion=conversion)}


@router.post(
    "/conversions/{conversion_id}/status-changes",
    response={200: StatusChangeOutcome, 202: ApprovalPending, **_ERRORS},
    summary="Change a conversion's status",
    description="Applied at once (200), or, when the approval rule asks for a second person, "
    "staged as a change set waiting for them (202: nothing changed yet).",
)
def conversion_status_change(
    request: HttpRequest, conversion_id: int, body: StatusChangeIn
) -> Answer:
    api_key = key_required(request, scope=Scope.CONVERSIONS_WRITE, permission=WRITE_PERMISSION)
    outcome = api_status_set(
        conversion_id=conversion_id,
        status=body.status,
        reason=body.reason,
        api_key=api_key,
        send_callbacks=body.send_callbacks,
    )
    if outcome is None:
        raise conversion_not_found(f"No conversion {conversion_id}.")
    if outcome.waiting_job is not None:
        job = outcome.waiting_job
        return Answer(
            202,
            {
                "detail": "Nothing changed yet: the change waits for a second person's approval "
                "on the change set's page.",
                "change_set_id": job.pk,
                "change_set_url": job_url(request, job),
                "approval_reason": job.approval_reason,
                "requested_status": body.status,
            },
        )
    return Answer(
        200, {"changed": outcome.changed, "conversion": conversion_fields(outcome.conversion)}
    )
