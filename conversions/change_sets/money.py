"""What a set of status changes moves, shown before it is made: per transition and currency, by
partner and by offer, and the callbacks each partner will be sent.

Money is counted as rewards owed: a change to Success adds the conversion's payout (and revenue),
a change from Success takes it away, a change between Pending and Rejected moves none. Amounts
are never summed across currencies (an offer's currency is its conversions'). The callbacks are
counted with the partners' own rule (``callbacks.services.callback_owed_sql``), none when the
change sends no callbacks.

One statement, one pass over the changes: a relation of changes with the columns
``old_status, new_status, payout, revenue, offer_id, partner_id`` (the import's staged change
set carries them from its validation join; the admin's confirmations select them from the
conversions) is grouped three ways at once (``GROUPING SETS``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection

from callbacks.services import callback_owed_sql
from conversions.amounts import money_signed
from conversions.models import Status

# The partners and offers named one by one; the others are summed as "the rest".
BREAKDOWN_SHOWN = 10
# '' is the status before a conversion's first: an upload's new conversions are "New → Success".
_STATUS_LABELS = {"": "New", **{value: str(label) for value, label in Status.choices}}


@dataclass(frozen=True)
class MoneyLine:
    """Conversions and the money they move, in one currency: for one transition (``label`` is
    "success->rejected"), one partner or one offer (``label`` its name), or the rest."""

    label: str
    currency: str
    conversions: int
    payout: Decimal
    revenue: Decimal
    key: int | None = None  # the partner's or offer's id
    callbacks: int = 0

    @property
    def transition_text(self) -> str:
        """ "Success → Rejected" for a transition's ``label``."""
        return transition_text(self.label)

    @property
    def payout_text(self) -> str:
        return money_signed(self.payout, self.currency)

    @property
    def revenue_text(self) -> str:
        return money_signed(self.revenue, self.currency)


def status_label(value: str) -> str:
    """A status as the pages write it ("Success"); anything else as it is."""
    return _STATUS_LABELS.get(value, value)


def transition_text(key: str) -> str:
    """A transition key ("success->rejected") as the pages write it: "Success → Rejected"."""
    old, _, new = key.partition("->")
    return f"{status_label(old)} → {status_label(new)}"


@dataclass(frozen=True)
class ChangeSetMoney:
    transitions: list[MoneyLine] = field(default_factory=list)
    by_partner: list[MoneyLine] = field(default_factory=list)
    by_offer: list[MoneyLine] = field(default_factory=list)

    @property
    def callbacks(self) -> int:
        return sum(line.callbacks for line in self.by_partner)

    def to_json(self) -> dict[str, Any]:
        def lines(items: list[MoneyLine]) -> list[dict[str, Any]]:
            return [
                {**asdict(line), "payout": str(line.payout), "revenue": str(line.revenue)}
                for line in items
            ]

        return {
            "transitions": lines(self.transitions),
            "by_partner": lines(self.by_partner),
            "by_offer": lines(self.by_offer),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ChangeSetMoney:
        def lines(items: list[dict[str, Any]]) -> list[MoneyLine]:
            return [
                MoneyLine(
                    **{
                        **item,
                        "payout": Decimal(item["payout"]),
                        "revenue": Decimal(item["revenue"]),
                    }
                )
                for item in items
            ]

        data = data or {}
        return cls(
            transitions=lines(data.get("transitions", [])),
            by_partner=lines(data.get("by_partner", [])),
            by_offer=lines(data.get("by_offer", [])),
        )

    def payout_by_currency(self) -> dict[str, Decimal]:
        """The absolute payout the change set moves, per currency (for the approval rule)."""
        moved: dict[str, Decimal] = {}
        for line in self.transitions:
            moved[line.currency] = moved.get(line.currency, Decimal(0)) + abs(line.payout)
        return moved


def change_set_money(
    *, changes_sql: str, params: dict[str, Any], send_callbacks: bool = True
) -> ChangeSetMoney:
    """The money and callbacks of the changes that ``changes_sql`` selects (see the module
    docstring for its columns; ``params`` are its named parameters)."""
    owed = callback_owed_sql(partner="p", status="ch.new_status") if send_callbacks else "false"
    sql = f"""
        WITH ch AS ({changes_sql}),
        moves AS (
            SELECT ch.old_status, ch.new_status, o.currency, ch.partner_id, p.name AS partner,
                   ch.offer_id, o.name AS offer, {owed} AS owed,
                   CASE WHEN ch.new_status = 'success' THEN 1
                        WHEN ch.old_status = 'success' THEN -1 ELSE 0 END AS sign,
                   ch.payout, ch.revenue
            FROM ch JOIN conversions_offer o ON o.id = ch.offer_id
                    JOIN callbacks_partner p ON p.id = ch.partner_id
        )
        SELECT GROUPING(old_status) = 0 AS by_transition, GROUPING(partner_id) = 0 AS by_partner,
               old_status, new_status, currency, partner_id, partner, offer_id, offer,
               count(*), sum(sign * payout), sum(sign * revenue), count(*) FILTER (WHERE owed)
        FROM moves
        GROUP BY GROUPING SETS ((old_status, new_status, currency),
                                (currency, partner_id, partner), (currency, offer_id, offer))
    """  # noqa: S608 -- only our own SQL is interpolated
    transitions, partners, offers = [], [], []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for row in cursor.fetchall():
            by_transition, by_partner, old, new, currency, partner_id, partner = row[:7]
            offer_id, offer, count, payout, revenue, callbacks = row[7:]
            amounts = {
                "currency": currency,
                "conversions": count,
                "payout": payout or Decimal(0),
                "revenue": revenue or Decimal(0),
            }
            if by_transition:
                transitions.append(MoneyLine(label=f"{old}->{new}", **amounts))
            elif by_partner:
                partners.append(
                    MoneyLine(label=partner, key=partner_id, callbacks=callbacks, **amounts)
                )
            else:
                offers.append(MoneyLine(label=offer, key=offer_id, **amounts))
    transitions.sort(key=lambda line: (line.label, line.currency))
    return ChangeSetMoney(
        transitions=transitions, by_partner=_largest(partners), by_offer=_largest(offers)
    )


def _largest(lines: list[MoneyLine]) -> list[MoneyLine]:
    """The ``BREAKDOWN_SHOWN`` lines that move the most, then the rest summed per currency."""
    lines.sort(key=lambda line: (-abs(line.payout), -line.conversions, line.label))
    shown, rest = lines[:BREAKDOWN_SHOWN], lines[BREAKDOWN_SHOWN:]
    others: dict[str, MoneyLine] = {}
    for line in rest:
        before = others.get(line.currency)
        others[line.currency] = MoneyLine(
            label="the rest",
            currency=line.currency,
            conversions=line.conversions + (before.conversions if before else 0),
            payout=line.payout + (before.payout if before else 0),
            revenue=line.revenue + (before.revenue if before else 0),
            callbacks=line.callbacks + (before.callbacks if before else 0),
        )
    return shown + list(others.values())


# The admin's confirmations: the selected conversions that are not yet in the new status.
CONVERSIONS_TO_STATUS_SQL = """
    SELECT c.status AS old_status, %(status)s::varchar AS new_status, c.payout, c.revenue,
           c.offer_id, c.partner_id
    FROM conversions_conversion c
    WHERE c.id = ANY(%(ids)s::bigint[]) AND c.status <> %(status)s
"""


def conversions_status_money(
    *, conversion_ids: list[int], status: str, send_callbacks: bool = True
) -> ChangeSetMoney:
    """What setting ``status`` on these conversions would move (those already in it move
    nothing), and the callbacks it would send (none with ``send_callbacks=False``)."""
    return change_set_money(
        changes_sql=CONVERSIONS_TO_STATUS_SQL,
        params={"ids": conversion_ids, "status": status},
        send_callbacks=send_callbacks,
    )
