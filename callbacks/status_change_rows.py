"""``StatusChangeRows``: the contract between the statement that makes status changes and the
inserts that record them (the audit rows, the outbox rows, the tally): which relation holds the
changes and what its columns are called. A module of its own, importing nothing, so that every
writer can name it without importing the others."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StatusChangeRows:
    """A relation of status changes (a CTE of the statement that makes them), and the names of
    the columns the outbox insert reads from it."""

    relation: str
    id: str = "id"
    conversion_id: str = "conversion_id"
    partner_id: str = "partner_id"
    old_status: str = "old_status"
    new_status: str = "new_status"
    reason: str = "reason"
    sequence_number: str = "sequence_number"
    created_at: str = "created_at"
