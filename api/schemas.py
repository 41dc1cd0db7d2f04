"""The bodies the API answers and accepts (its OpenAPI document's schemas)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from ninja import Schema
from pydantic import BaseModel, ConfigDict, Field

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
        description="false: send the partner no callback for this change (its audit row "
        "records that none is owed).",
    )


class StatusChangeOutcome(Schema):
    changed: bool = Field(description="false: the conversion already had this status.")
    conversion: ConversionOut


# --- Bulk change sets -----------------------------------------------------------------------


# A cell of a status file: any text but NUL (which no text file holds).
_NO_NUL = r"^[^\x00]*$"


class ChangeIn(BaseModel):
    """One change, keyed like a status file's row (its columns' names): ``EventId`` names one
    conversion, ``gk_click_id`` alone every conversion of that click (both: they must agree).
    Values are checked as a file's are: a bad one rejects its row, named in the outcomes.

    A plain Pydantic model, not a django-ninja ``Schema``: the Schema's validator for reading
    ORM objects cost 40 µs a change (4 s for 100,000), for bodies that are never ORM objects."""

    model_config = ConfigDict(extra="forbid")

    gk_click_id: str = Field(default="", max_length=64, pattern=_NO_NUL)
    EventId: int | Annotated[str, Field(max_length=40, pattern=_NO_NUL)] | None = Field(  # noqa: N815 -- the file's column names
        default=None, description="The Conversion Event ID (the report's ID column)."
    )
    Status: str = Field(  # noqa: N815
        default="",
        max_length=32,
        pattern=_NO_NUL,
        description="Pending, Success or Rejected, in any case; may be left out with a Payout "
        "or Revenue (the status stays).",
    )
    Reason: str = Field(default="", max_length=1000, pattern=_NO_NUL)  # noqa: N815
    Payout: str | None = Field(  # noqa: N815
        default=None,
        max_length=40,
        pattern=_NO_NUL,
        description="The new payout in the offer's currency, as a string of digits and a point "
        '("12.50", at most 4 decimals; no float rounding); left out: unchanged.',
    )
    Revenue: str | None = Field(  # noqa: N815
        default=None,
        max_length=40,
        pattern=_NO_NUL,
        description="The new revenue, written as Payout; left out: unchanged.",
    )


class ChangeSetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    changes: list[ChangeIn] = Field(
        min_length=1,
        max_length=100_000,
        description="Up to 100,000 changes. Rows are numbered as in a file: changes[0] is row 2 "
        "(the header is row 1).",
    )
    dry_run: bool = Field(
        default=False,
        description="true: check and preview only; the change set is closed as checked and "
        "cannot be confirmed.",
    )
    send_callbacks: bool = Field(
        default=True, description="false: the partners are sent no callback for these changes."
    )


class MoneyLineOut(Schema):
    label: str = Field(description="The transition (pending->success), partner or offer.")
    key: int | None = Field(description="The partner's or offer's id; null for the rest.")
    currency: str
    conversions: int
    payout: Decimal = Field(description="Added (a change to Success) or taken away (negative).")
    revenue: Decimal
    callbacks: int = Field(description="Callbacks this partner will be sent (by_partner only).")
    gross_payout: Decimal = Field(
        description="The payout moved conversion by conversion, whichever way (what the "
        "approval threshold weighs)."
    )
    amount_changes: int = Field(description="Of the conversions, those whose amounts change.")
    payout_before: Decimal = Field(description="Their payout before the change.")
    payout_after: Decimal = Field(description="Their payout after it.")
    revenue_before: Decimal
    revenue_after: Decimal


class ChangeSetMoneyOut(Schema):
    transitions: list[MoneyLineOut]
    by_partner: list[MoneyLineOut]
    by_offer: list[MoneyLineOut]
    amounts: list[MoneyLineOut] = Field(
        description="The changes of amounts, one line per currency (empty when none)."
    )


class RowErrorOut(Schema):
    row: int
    message: str


class ChangeSetPreview(Schema):
    """What the check found (the job page's preview), as of the check."""

    rows: int
    will_change: dict[str, int] = Field(description='By transition: {"pending->success": 3}.')
    will_change_total: int
    unchanged: int
    not_found: int
    invalid: int
    conflicting: int
    rejected_rows: int
    first_errors: list[RowErrorOut]
    money: ChangeSetMoneyOut
    callbacks: int = Field(description="Callbacks the partners will be sent in all.")
    amounts: int = Field(
        description="Of the conversions that will change, those whose payout or revenue "
        "changes (a file with Payout or Revenue columns, or the revert of one)."
    )


class ChangeSetApplied(Schema):
    """What the apply did (only once the change set is applied)."""

    applied: dict[str, int]
    applied_total: int
    changed_since_preview: int = Field(
        description="Left as they were: their status changed between the check and the apply."
    )
    callbacks: int


class ChangeSetApproval(Schema):
    required: bool
    reason: str = Field(description="Why a second person must approve; empty when not.")


class ChangeSetProgress(Schema):
    done: int
    total: int
    percent: int


class ChangeSetOut(Schema):
    id: int
    url: str
    page_url: str = Field(description="The change set's page in the admin.")
    kind: str
    state: Literal[
        "uploaded",
        "validating",
        "validated",
        "invalid",
        "checked",
        "queued",
        "applying",
        "applied",
        "failed",
    ]
    name: str
    origin: str
    created_at: datetime
    created_by: str | None
    confirmed_by: str | None
    confirmed_at: datetime | None
    send_callbacks: bool
    progress: ChangeSetProgress
    approval: ChangeSetApproval
    preview: ChangeSetPreview | None = Field(description="null until checked.")
    outcome: ChangeSetApplied | None = Field(description="null until applied.")
    error: str = Field(description="Why it is invalid or failed.")
    reverts: int | None = Field(description="The change set this one reverts.")
    reverted_by: int | None


class OutcomeOut(Schema):
    outcome: Literal["rejected", "will_change", "unchanged", "changed", "left_alone"]
    row: int | None = Field(description="A rejected row's number (changes[0] is row 2).")
    conversion_id: int | None
    gk_click_id: str
    event_id: str
    old_status: str
    new_status: str
    reason: str
    message: str = Field(description="Why it was rejected or left alone.")
    new_payout: str = Field(description='The payout the change sets ("12.50"; "" where it stays).')
    new_revenue: str = Field(description='The revenue the change sets ("" where it stays).')


class OutcomePage(Schema):
    items: list[OutcomeOut]
    next_cursor: str | None
