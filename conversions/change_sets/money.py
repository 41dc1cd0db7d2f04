"""What a set of status changes moves, shown before it is made: per transition and currency, by
partner and by offer, and the callbacks each partner will be sent.

Money is counted as rewards owed: what is owed after the change less what was owed before, a
Success conversion owing its payout (and revenue). So a change to Success adds the conversion's
payout, a change from Success takes it away, a change between Pending and Rejected moves none,
and a change of amounts moves the difference while the conversion is (or becomes) Success.
Amounts are never summed across currencies (an offer's currency is its conversions'). The
callbacks are counted with the partners' own rule (``callbacks.services.callback_owed_sql``),
for a change of status or of payout, none when the change sends no callbacks. Changes of
amounts are also shown as their own lines: how many conversions, and their payout and revenue
before and after, per currency, partner and offer. The approval rule weighs the payout moved
conversion by conversion (``gross_payout``), so that raising one payout and lowering another
cannot cancel out.

One statement, one pass over the changes: a relation of changes with the columns
``old_status, new_status, payout, revenue, new_payout, new_revenue, offer_id, partner_id``
(``new_*``: the amounts to set, NULL where they stay; the import's staged change set carries
them from its validation join; the admin's confirmations select them from the conversions) is
grouped four ways at once (``GROUPING SETS``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection

from callbacks.services import callback_owed_sql
from conversions.amounts import money, money_signed
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
    # The payout moved, conversion by conversion, whichever way (what the approval rule weighs).
    gross_payout: Decimal = Decimal(0)
    # Of the conversions, those whose amounts change, with their amounts before and after.
    amount_changes: int = 0
    payout_before: Decimal = Decimal(0)
    payout_after: Decimal = Decimal(0)
    revenue_before: Decimal = Decimal(0)
    revenue_after: Decimal = Decimal(0)

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

    @property
    def payout_change_text(self) -> str:
        """ "1,000.00 USD → 1,250.00 USD" (the changed conversions' payout before and after)."""
        return self._change_text(self.payout_before, self.payout_after)

    @property
    def revenue_change_text(self) -> str:
        return self._change_text(self.revenue_before, self.revenue_after)

    def _change_text(self, before: Decimal, after: Decimal) -> str:
        return f"{money(before, self.currency)} → {money(after, self.currency)}"


def status_label(value: str) -> str:
    """A status as the pages write it ("Success"); anything else as it is."""
    return _STATUS_LABELS.get(value, value)


def transition_text(key: str) -> str:
    """A transition key ("success->rejected") as the pages write it: "Success → Rejected";
    "Success, amounts only" for a change of amounts that keeps the status."""
    old, _, new = key.partition("->")
    if old == new:
        return f"{status_label(old)}, amounts only"
    return f"{status_label(old)} → {status_label(new)}"


@dataclass(frozen=True)
class ChangeSetMoney:
    transitions: list[MoneyLine] = field(default_factory=list)
    by_partner: list[MoneyLine] = field(default_factory=list)
    by_offer: list[MoneyLine] = field(default_factory=list)
    # The changes of amounts, one line per currency (none when no amount changes).
    amounts: list[MoneyLine] = field(default_factory=list)

    @property
    def callbacks(self) -> int:
        return sum(line.callbacks for line in self.by_partner)

    def to_json(self) -> dict[str, Any]:
        def lines(items: list[MoneyLine]) -> list[dict[str, Any]]:
            return [
                {
                    key: str(value) if isinstance(value, Decimal) else value
                    for key, value in asdict(line).items()
                }
                for line in items
            ]

        return {
            "transitions": lines(self.transitions),
            "by_partner": lines(self.by_partner),
            "by_offer": lines(self.by_offer),
            "amounts": lines(self.amounts),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ChangeSetMoney:
        def lines(items: list[dict[str, Any]]) -> list[MoneyLine]:
            decoded: list[dict[str, Any]] = [
                {key: Decimal(value) if key in _DECIMALS else value for key, value in item.items()}
                for item in items
            ]
            return [MoneyLine(**item) for item in decoded]

        data = data or {}
        return cls(
            transitions=lines(data.get("transitions", [])),
            by_partner=lines(data.get("by_partner", [])),
            by_offer=lines(data.get("by_offer", [])),
            amounts=lines(data.get("amounts", [])),
        )

    def payout_by_currency(self) -> dict[str, Decimal]:
        """The payout the change set moves, conversion by conversion whichever way, per
        currency (for the approval rule)."""
        moved: dict[str, Decimal] = {}
        for line in self.transitions:
            # A summary stored before gross_payout existed moved status only: the same sum.
            gross = line.gross_payout or abs(line.payout)
            moved[line.currency] = moved.get(line.currency, Decimal(0)) + gross
        return moved


def change_set_money(
    *, changes_sql: str, params: dict[str, Any], send_callbacks: bool = True
) -> ChangeSetMoney:
    """The money and callbacks of the changes that ``changes_sql`` selects (see the module
    docstring for its columns; ``params`` are its named parameters)."""
    owed = (
        f"({callback_owed_sql(partner='p', status='ch.new_status')}"
        " AND (ch.old_status <> ch.new_status OR ch.new_payout IS NOT NULL))"
        if send_callbacks
        else "false"
    )
    sql = f"""
        WITH ch AS ({changes_sql}),
        moves AS (
            SELECT ch.old_status, ch.new_status, o.currency, ch.partner_id, p.name AS partner,
                   ch.offer_id, o.name AS offer, {owed} AS owed,
                   ch.new_payout IS NOT NULL OR ch.new_revenue IS NOT NULL AS amounts_change,
                   ch.payout AS payout_before, coalesce(ch.new_payout, ch.payout) AS payout_after,
                   ch.revenue AS revenue_before,
                   coalesce(ch.new_revenue, ch.revenue) AS revenue_after
            FROM ch JOIN conversions_offer o ON o.id = ch.offer_id
                    JOIN callbacks_partner p ON p.id = ch.partner_id
        ),
        owed AS (
            SELECT m.*,
                   CASE WHEN new_status = 'success' THEN payout_after ELSE 0 END
                   - CASE WHEN old_status = 'success' THEN payout_before ELSE 0 END AS payout,
                   CASE WHEN new_status = 'success' THEN revenue_after ELSE 0 END
                   - CASE WHEN old_status = 'success' THEN revenue_before ELSE 0 END AS revenue
            FROM moves m
        )
        SELECT GROUPING(old_status) = 0 AS by_transition, GROUPING(partner_id) = 0 AS by_partner,
               GROUPING(offer_id) = 0 AS by_offer,
               old_status, new_status, currency, partner_id, partner, offer_id, offer,
               count(*), sum(payout), sum(revenue), count(*) FILTER (WHERE owed),
               sum(abs(payout)), count(*) FILTER (WHERE amounts_change),
               sum(payout_before) FILTER (WHERE amounts_change),
               sum(payout_after) FILTER (WHERE amounts_change),
               sum(revenue_before) FILTER (WHERE amounts_change),
               sum(revenue_after) FILTER (WHERE amounts_change)
        FROM owed
        GROUP BY GROUPING SETS ((old_status, new_status, currency),
                                (currency, partner_id, partner), (currency, offer_id, offer),
                                (currency))
    """  # noqa: S608 -- only our own SQL is interpolated
    transitions, partners, offers, amount_lines = [], [], [], []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for row in cursor.fetchall():
            by_transition, by_partner, by_offer, old, new, currency = row[:6]
            partner_id, partner, offer_id, offer, count, payout, revenue, callbacks = row[6:14]
            gross, changed, *before_after = row[14:]
            zero = Decimal(0)
            amounts = {
                "currency": currency,
                "conversions": count,
                "payout": payout or zero,
                "revenue": revenue or zero,
                "gross_payout": gross or zero,
                "amount_changes": changed,
                **{
                    name: value or zero
                    for name, value in zip(_BEFORE_AFTER, before_after, strict=True)
                },
            }
            if by_transition:
                transitions.append(MoneyLine(label=f"{old}->{new}", **amounts))
            elif by_partner:
                partners.append(
                    MoneyLine(label=partner, key=partner_id, callbacks=callbacks, **amounts)
                )
            elif by_offer:
                offers.append(MoneyLine(label=offer, key=offer_id, **amounts))
            elif changed:
                amount_lines.append(MoneyLine(label="amounts", **amounts))
    transitions.sort(key=lambda line: (line.label, line.currency))
    amount_lines.sort(key=lambda line: line.currency)
    return ChangeSetMoney(
        transitions=transitions,
        by_partner=_largest(partners),
        by_offer=_largest(offers),
        amounts=amount_lines,
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
            **{
                name: getattr(line, name) + (getattr(before, name) if before else 0)
                for name in _SUMMED
            },
        )
    return shown + list(others.values())


_BEFORE_AFTER = ("payout_before", "payout_after", "revenue_before", "revenue_after")
_DECIMALS = {"payout", "revenue", "gross_payout", *_BEFORE_AFTER}
# What "the rest" sums of the lines it stands for.
_SUMMED = ("conversions", "callbacks", "amount_changes", *_DECIMALS)

# The admin's confirmations: the selected conversions that are not yet in the new status.
CONVERSIONS_TO_STATUS_SQL = """
    SELECT c.status AS old_status, %(status)s::varchar AS new_status, c.payout, c.revenue,
           NULL::numeric AS new_payout, NULL::numeric AS new_revenue, c.offer_id, c.partner_id
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
