"""``StatusChangeRows``: the relation of status changes that one statement makes and the inserts
chained to it record (the audit rows and outbox rows, ``conversions.audit``; the tally's
deltas, ``conversions.tally``), defined once: its columns and how each is read from a
conversion row as its change left it (:meth:`StatusChangeRows.columns_sql`).

Both statements that change statuses build it with that one method: the postback's insert
(``conversions.tracking``, a conversion's first status) and the status service's update
(``conversions.services``: row buttons, selected rows, imports, reverts, the pending-time
promotion). A module that imports nothing, so that the callbacks app's outbox insert can name
it without importing the audit trail that imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class StatusChangeRows:
    """A relation of status changes (a CTE of the statement that makes them), one row per
    change, with the columns named below."""

    relation: str

    # The audit row's id, drawn by the statement (``nextval`` of the audit table's sequence),
    # so that every insert reads this relation alone, with no join back.
    id: ClassVar[str] = "id"
    conversion_id: ClassVar[str] = "conversion_id"
    partner_id: ClassVar[str] = "partner_id"
    # '' for a conversion's first status.
    old_status: ClassVar[str] = "old_status"
    new_status: ClassVar[str] = "new_status"
    reason: ClassVar[str] = "reason"
    # The conversion's change counter after this change (1 for its first status).
    sequence_number: ClassVar[str] = "sequence_number"
    # When the change was made.
    created_at: ClassVar[str] = "created_at"
    # Whether the change owes the partner a callback (``conversions.audit.callback_owed_sql_for``).
    callback_owed: ClassVar[str] = "callback_owed"
    # The change's link in its conversion's hash chain, as the change left it on the conversion
    # row (``conversions.audit.status_change_hash_sql``).
    chain_hash: ClassVar[str] = "chain_hash"
    # The changed conversion's offer, money and creation time: what the tally counts by.
    offer_id: ClassVar[str] = "offer_id"
    # Which event postback (``callbacks.models.PartnerEventPostback``) the change owes.
    offer_event_id: ClassVar[str] = "offer_event_id"
    # The amounts the change left, and those it found (the same unless it changed them).
    payout: ClassVar[str] = "payout"
    revenue: ClassVar[str] = "revenue"
    old_payout: ClassVar[str] = "old_payout"
    old_revenue: ClassVar[str] = "old_revenue"
    conversion_created_at: ClassVar[str] = "conversion_created_at"

    @classmethod
    def columns_sql(
        cls,
        *,
        conversion: str,
        old_status: str,
        audit_id: str,
        callback_owed: str,
        old_amounts: tuple[str, str] | None = None,
    ) -> str:
        """The select list (or ``RETURNING`` list) of the relation, read from ``conversion``
        (an alias of a ``conversions_conversion`` row as the change left it: new status,
        reason, counter, time, hash and amounts), with ``old_status``, ``audit_id``,
        ``callback_owed`` and ``old_amounts`` (payout and revenue before the change; by default
        the ones it left) as SQL expressions."""
        c = conversion
        old_payout, old_revenue = old_amounts or (f"{c}.payout", f"{c}.revenue")
        return f"""{audit_id} AS {cls.id}, {c}.id AS {cls.conversion_id},
            {c}.partner_id AS {cls.partner_id}, {old_status} AS {cls.old_status},
            {c}.status AS {cls.new_status}, {c}.status_reason AS {cls.reason},
            {c}.status_version AS {cls.sequence_number},
            {c}.status_changed_at AS {cls.created_at}, {callback_owed} AS {cls.callback_owed},
            {c}.audit_chain_hash AS {cls.chain_hash}, {c}.offer_id AS {cls.offer_id},
            {c}.offer_event_id AS {cls.offer_event_id},
            {c}.payout AS {cls.payout}, {c}.revenue AS {cls.revenue},
            {old_payout} AS {cls.old_payout}, {old_revenue} AS {cls.old_revenue},
            {c}.created_at AS {cls.conversion_created_at}"""
