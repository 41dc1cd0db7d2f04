"""GoKart-compatible routes: an integration written for GoKart's Management API works
unchanged (``/api/v1/sdk-conversion-system/…``, GoKart's parameter and field names).

Ids: GoKart's ``conversionId`` is our click's ``gk_click_id`` (a click with several events is
GoKart's multi-event conversion); its ``conversionEventId`` is our Conversion Event ID (the
report's ID column). ``PATCH …/conversions/{id}/status`` changes a single-event conversion
(409 ``multi_event_conversion`` when the click has several events: name the event with
``…/conversions/{id}/{conversionEventId}/status``).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.responses import Status as Answer
from pydantic import Field

from api.auth import key_required
from api.iso_dates import IsoDate
from api.models import ApiKey, Scope
from api.problems import ApiProblem, conversion_not_found
from api.schemas import (
    GoKartApprovalPending,
    GoKartConversionPage,
    GoKartStatus,
    GoKartStatusAnswer,
    Problem,
)
from api.selectors import conversions_for_api, gokart_fields, rewards_sent
from api.status_changes import api_status_set, job_url
from conversions.models import Conversion, Status

router = Router(tags=["GoKart-compatible"])

READ_PERMISSION = "conversions.view_conversion"
WRITE_PERMISSION = "conversions.change_conversion_status"
# GoKart's limit on the completion date range.
RANGE_MAX = timedelta(days=92)
# Offset pages past this many rows are refused: the cursor route reads any depth fast.
OFFSET_MAX = 10_000
_ORDER_COLUMNS = {"completedAt": "created_at", "conversionEventId": "id", "status": "status"}
_ERRORS = {401: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem}


class GoKartListQuery(Schema):
    start_date: IsoDate = Field(description="First completion day (UTC), YYYY-MM-DD. Required.")
    end_date: IsoDate = Field(
        description="Last completion day (UTC), inclusive; at most 3 months after start_date."
    )
    page: int = Field(default=0, ge=0, description="From 0.")
    page_size: int = Field(default=10, ge=1, le=100)
    orderby: Literal["completedAt", "conversionEventId", "status"] = "completedAt"
    order_asc: bool = False


@router.get(
    "/conversions",
    response={200: GoKartConversionPage, **_ERRORS},
    summary="List conversion events by completion date",
)
def gokart_conversions(request: HttpRequest, query: Query[GoKartListQuery]) -> dict:
    key_required(request, scope=Scope.CONVERSIONS_READ, permission=READ_PERMISSION)
    if query.end_date < query.start_date:
        raise ApiProblem(
            422, "invalid_date_range", "Invalid date range", "end_date is before start_date."
        )
    if query.end_date - query.start_date > RANGE_MAX:
        raise ApiProblem(
            422,
            "date_range_too_long",
            "Date range too long",
            "The completion date range is at most 3 months (92 days).",
        )
    offset = query.page * query.page_size
    if offset + query.page_size > OFFSET_MAX:
        raise ApiProblem(
            422,
            "page_too_deep",
            "Page too deep",
            f"Pages reach the first {OFFSET_MAX} rows; narrow the date range or use "
            "GET /api/v1/conversions with its cursor.",
        )
    since = datetime.combine(query.start_date, time.min, tzinfo=UTC)
    until = datetime.combine(query.end_date + timedelta(days=1), time.min, tzinfo=UTC)
    column = _ORDER_COLUMNS[query.orderby]
    ordering = [column, "id"] if query.order_asc else [f"-{column}", "-id"]
    rows = list(
        conversions_for_api()
        .filter(created_at__gte=since, created_at__lt=until)
        .order_by(*dict.fromkeys(ordering))[offset : offset + query.page_size + 1]
    )
    page = rows[: query.page_size]
    sent = rewards_sent(page)
    return {
        "page": query.page,
        "page_size": query.page_size,
        "has_more": len(rows) > query.page_size,
        "conversions": [gokart_fields(c, reward_sent=c.pk in sent) for c in page],
    }


def _status_value(status: str) -> str:
    return {label: value for value, label in Status.choices}[status]


def _click_conversions(gk_click_id: str) -> list[Conversion]:
    conversions = list(conversions_for_api().filter(click__gk_click_id=gk_click_id)[:101])
    if not conversions:
        raise conversion_not_found(f"No conversion {gk_click_id!r}.")
    return conversions


def _writer(request: HttpRequest) -> ApiKey:
    # Checked before any look-up: a key that may not write learns nothing of which ids exist.
    return key_required(request, scope=Scope.CONVERSIONS_WRITE, permission=WRITE_PERMISSION)


def _status_answer(
    request: HttpRequest,
    api_key: ApiKey,
    conversion: Conversion,
    status: str,
    options: GoKartStatusOptions,
) -> Answer:
    outcome = api_status_set(
        conversion_id=conversion.pk,
        status=_status_value(status),
        reason=options.reason,
        api_key=api_key,
        send_callbacks=options.send_callbacks,
    )
    if outcome is None:  # never: conversions are not deleted (migration 0015)
        raise conversion_not_found(f"No conversion {conversion.pk}.")
    conversion = outcome.conversion
    ids = {"conversionId": conversion.click.gk_click_id, "conversionEventId": conversion.pk}
    if outcome.waiting_job is not None:
        job = outcome.waiting_job
        return Answer(
            202,
            {
                **ids,
                "status": Status(conversion.status).label,
                "detail": "Nothing changed yet: the change waits for a second person's approval "
                "on the change set's page.",
                "change_set_id": job.pk,
                "change_set_url": job_url(request, job),
                "approval_reason": job.approval_reason,
                "requested_status": status,
            },
        )
    return Answer(
        200,
        {
            **ids,
            "status": Status(conversion.status).label,
            "rejectionReason": conversion.status_reason or None,
            "isRewardSent": conversion.pk in rewards_sent([conversion]),
        },
    )


class GoKartStatusOptions(Schema):
    reason: str = Field("", max_length=1000, description="Optional: why (the rejection reason).")
    send_callbacks: bool = Field(
        True,
        description="Ours, beyond GoKart's: false sends the partner no callback for this change "
        "(its audit row records that none is owed).",
    )


_STATUS_RESPONSES = {200: GoKartStatusAnswer, 202: GoKartApprovalPending, **_ERRORS}


@router.patch(
    "/conversions/{id}/status",
    response=_STATUS_RESPONSES,
    summary="Change the status of a single-event conversion",
)
def gokart_status_set(
    request: HttpRequest,
    id: str,
    status: GoKartStatus,
    options: Query[GoKartStatusOptions],
) -> Answer:
    api_key = _writer(request)
    conversions = _click_conversions(id)
    if len(conversions) > 1:
        raise ApiProblem(
            409,
            "multi_event_conversion",
            "Multi-event conversion",
            f"Conversion {id!r} has {len(conversions)} events: use "
            f"/conversions/{id}/{{conversionEventId}}/status with one of "
            f"{sorted(c.pk for c in conversions)[:20]}.",
        )
    return _status_answer(request, api_key, conversions[0], status, options)


@router.patch(
    "/conversions/{id}/{conversion_event_id}/status",
    response=_STATUS_RESPONSES,
    summary="Change the status of one event of a (multi-event) conversion",
)
def gokart_event_status_set(
    request: HttpRequest,
    id: str,
    conversion_event_id: int,
    status: GoKartStatus,
    options: Query[GoKartStatusOptions],
) -> Answer:
    api_key = _writer(request)
    conversion = conversions_for_api().filter(pk=conversion_event_id, click__gk_click_id=id).first()
    if conversion is None:
        raise conversion_not_found(f"Conversion {id!r} has no event {conversion_event_id}.")
    return _status_answer(request, api_key, conversion, status, options)
