"""The bodies the API answers and accepts (its OpenAPI document's schemas)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from ninja import Schema
from pydantic import ConfigDict, Field

GoKartStatus = Literal["Pending", "Success", "Rejected"]
OurStatus = Literal["pending", "success", "rejected"]


class Problem(Schema):
    """An error (RFC 9457); ``code`` is what a program branches on."""

    type: str
    title: str
    status: int
    detail: str
    code: str


# --- GoKart-compatible ----------------------------------------------------------------------


class GoKartConversion(Schema):
    """One conversion event in GoKart's words: ``conversionId`` is the click's gk_click_id (a
    multi-event conversion has several events), ``conversionEventId`` our Conversion Event ID."""

    conversionId: str  # noqa: N815 -- GoKart's field names
    conversionEventId: int  # noqa: N815
    eventId: str  # noqa: N815
    offerId: int  # noqa: N815
    status: GoKartStatus
    rejectionReason: str | None  # noqa: N815
    isRewardSent: bool  # noqa: N815
    payout: Decimal
    revenue: Decimal
    currency: str
    transactionId: str  # noqa: N815
    pubSub: str  # noqa: N815
    completedAt: datetime  # noqa: N815


class GoKartConversionPage(Schema):
    page: int
    page_size: int
    has_more: bool
    conversions: list[GoKartConversion]


class GoKartStatusAnswer(Schema):
    """The status PATCH's answer (200: the status now)."""

    conversionId: str  # noqa: N815
    conversionEventId: int  # noqa: N815
    status: GoKartStatus
    rejectionReason: str | None  # noqa: N815
    isRewardSent: bool  # noqa: N815


class ApprovalPending(Schema):
    """202: the change waits for a second person's approval; nothing changed yet."""

    detail: str
    change_set_id: int
    change_set_url: str
    approval_reason: str
    requested_status: str


class GoKartApprovalPending(ApprovalPending):
    conversionId: str  # noqa: N815
    conversionEventId: int  # noqa: N815
    status: GoKartStatus


# --- Our own --------------------------------------------------------------------------------


class ConversionOut(Schema):
    id: int = Field(description="The Conversion Event ID (the report's ID column).")
    gk_click_id: str
    sub_id: str = Field(description="The partner's user/sub id of the click.")
    offer_id: int
    offer_event: str = Field(description="The offer event's code.")
    partner_id: int
    status: OurStatus
    status_reason: str
    status_source: str
    status_changed_at: datetime
    status_version: int
    payout: Decimal
    revenue: Decimal
    currency: str
    transaction_id: str
    created_at: datetime


class ConversionPage(Schema):
    items: list[ConversionOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


class StatusChangeOut(Schema):
    sequence_number: int
    old_status: str
    new_status: str
    source: str
    user: str | None
    import_job_id: int | None
    reason: str
    callbacks_suppressed: bool
    callback_state: str | None = Field(
        description="The partner callback this change owed: delivered, pending, held, failed; "
        "null when none was owed."
    )
    created_at: datetime


class ConversionDetail(ConversionOut):
    history: list[StatusChangeOut] = Field(description="Newest first, at most 100.")


class StatusChangeIn(Schema):
    model_config = ConfigDict(extra="forbid")

    status: OurStatus
    reason: str = Field(default="", max_length=1000)
    send_callbacks: bool = Field(
        default=True,
        description="false: send the partner no callback. Not available yet (422 "
        "callbacks_suppression_unavailable).",
    )


class StatusChangeOutcome(Schema):
    changed: bool = Field(description="false: the conversion already had this status.")
    conversion: ConversionOut
