"""The summary of an import job: what validation found, and what the apply did.

``ImportJob.summary`` holds it as JSON (``ImportSummary.to_json``); ``{}`` means "not validated
yet" (``ImportSummary.from_json`` gives ``None``). Its keys are the attribute names below, and
``fan_out``'s and ``errors``' items are objects with the attribute names of ``FanOut`` and
``RowError``. Staging fills the validation part, the confirmation adds ``confirmed_by``, the
apply adds its own part; views, admin and the ``import_statuses`` command read attributes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

# Keys written only once the job is confirmed or applied (absent from JSON before).
_APPLY_KEYS = ("applied", "applied_total", "changed_since_preview", "callbacks", "apply_seconds")


@dataclass(frozen=True)
class FanOut:
    """Per offer: the accepted rows with a gk_click_id and no EventId, and the conversions they
    name."""

    offer: str
    offer_id: int
    click_rows: int
    conversions: int


@dataclass(frozen=True)
class RowError:
    """One rejected row: its number in the spreadsheet (header = 1) and why."""

    row: int
    message: str


@dataclass(frozen=True)
class LeftAlone:
    """A conversion a revert leaves as it is: it no longer has the status the reverted job set
    (``status`` is what it has now)."""

    conversion_id: int
    status: str


@dataclass(frozen=True)
class ImportSummary:
    """Validation: ``rows`` read (blank rows are skipped and not counted); ``will_change``
    ``{"pending->success": n, …}`` the conversions that will change, by transition, as of
    validation, and ``will_change_total`` their sum; ``unchanged``: already in the status asked
    for; ``not_found``, ``invalid``, ``conflicting``: rejected *rows* of each kind, and
    ``rejected_rows``; ``fan_out``; ``errors``: the first 50 rejected rows; ``staged``:
    conversions in the change set; ``columns``: the header used for each column; ``reader``
    (the file format); ``validate_seconds``; ``money``: what the change set moves
    (``conversions.change_sets.ChangeSetMoney.to_json``); for a revert, ``left_alone``: the
    conversions changed since the reverted job (left as they are) and the first 50 of them;
    ``amounts``: of the conversions that will change, those whose payout or revenue changes
    (an amounts file's, or the revert of one).

    Confirmation: ``confirmed_by`` (the username; ``confirmed`` says whether it was set).

    Apply (``applied`` is ``None`` until then): ``applied`` by transition, ``applied_total``,
    ``changed_since_preview`` (conversions whose status changed between validation and apply:
    they are left as they are), ``callbacks`` (outbox rows written), ``apply_seconds``.
    """

    rows: int
    will_change: dict[str, int] = field(default_factory=dict)
    will_change_total: int = 0
    unchanged: int = 0
    not_found: int = 0
    invalid: int = 0
    conflicting: int = 0
    rejected_rows: int = 0
    fan_out: list[FanOut] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    staged: int = 0
    columns: dict[str, str] = field(default_factory=dict)
    reader: str = ""
    validate_seconds: float = 0.0
    money: dict[str, Any] = field(default_factory=dict)
    left_alone: int = 0
    left_alone_examples: list[LeftAlone] = field(default_factory=list)
    amounts: int = 0
    confirmed: bool = False
    confirmed_by: str | None = None
    applied: dict[str, int] | None = None
    applied_total: int = 0
    changed_since_preview: int = 0
    callbacks: int = 0
    apply_seconds: float = 0.0

    def replace(self, **changes: Any) -> ImportSummary:
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        del data["confirmed"]
        if not self.confirmed:
            del data["confirmed_by"]
        if self.applied is None:
            for key in _APPLY_KEYS:
                del data[key]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ImportSummary | None:
        """The summary stored as ``data``; ``None`` for a job not validated yet. Keys left out
        take their defaults (the totals: the sums of their parts)."""
        if not data or "rows" not in data:
            return None
        names = {item.name for item in dataclasses.fields(cls)}
        values = {key: value for key, value in data.items() if key in names}
        will_change = values.get("will_change") or {}
        rejected = sum(data.get(key) or 0 for key in ("not_found", "invalid", "conflicting"))
        values.setdefault("will_change_total", sum(will_change.values()))
        values.setdefault("rejected_rows", rejected)
        values.setdefault("applied_total", sum((values.get("applied") or {}).values()))
        values["will_change"] = dict(will_change)
        values["fan_out"] = [FanOut(**item) for item in values.get("fan_out") or []]
        values["errors"] = [RowError(**item) for item in values.get("errors") or []]
        values["left_alone_examples"] = [
            LeftAlone(**item) for item in values.get("left_alone_examples") or []
        ]
        values["confirmed"] = "confirmed_by" in data
        return cls(**values)
