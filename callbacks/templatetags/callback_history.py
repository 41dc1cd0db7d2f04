"""``{% for change, callback in status_history|with_callbacks:original %}``: each status change
of a conversion's history with its callback's state, for the conversion page.

One query for the page, whatever its length: the changes' deliveries (by the unique
``status_change`` index) joined with the partner's toggles, which say why a change without a
delivery owed none.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django import template
from django.db import connection
from django.urls import reverse

from callbacks.admin.delivery_display import delivery_state_label, moment_format

register = template.Library()

_SQL = """
    SELECT sc.id, d.id, d.state, d.attempts, d.last_response_status, d.delivered_at,
           d.next_attempt_at, d.last_error,
           p.callback_url <> '', p.pending_callbacks_enabled, p.rejected_callbacks_enabled
    FROM unnest(%(changes)s::bigint[]) AS sc(id)
    CROSS JOIN callbacks_partner p
    LEFT JOIN callbacks_callbackdelivery d ON d.status_change_id = sc.id
    WHERE p.id = %(partner)s
"""


@dataclass(frozen=True)
class ChangeCallback:
    """What became of one status change's callback, in a few words, and where to look."""

    kind: str  # a delivery state (the badge's colour), or "none" when no callback was owed
    text: str
    url: str = ""


def _describe(row: tuple[Any, ...], *, change: Any) -> ChangeCallback:
    (_, delivery_id, state, attempts, status, delivered_at, next_at, error, has_url,
     pending_on, rejected_on) = row  # fmt: skip
    if delivery_id is None:
        if change.callbacks_suppressed:
            return ChangeCallback("none", "Not sent: suppressed by the import")
        if not has_url:
            return ChangeCallback("none", "Not owed: the partner has no callback URL")
        off = {"pending": not pending_on, "rejected": not rejected_on}.get(change.new_status)
        if off:
            return ChangeCallback(
                "none", f"Not owed: {change.get_new_status_display()} callbacks are off"
            )
        return ChangeCallback("none", "No callback was owed")
    url = reverse("admin:callbacks_callbackdelivery_change", args=[delivery_id])
    label = delivery_state_label(state, attempts=attempts)
    kind = "retrying" if state == "pending" and attempts else state
    if state == "delivered":
        text = f"Delivered: HTTP {status} at {moment_format(delivered_at)}"
    elif state == "failed":
        text = f"Failed: {error or (f'HTTP {status}' if status else 'no answer')}"
    elif state == "pending" and attempts:
        text = f"Retrying: next attempt {moment_format(next_at)}"
    else:
        text = label
    return ChangeCallback(kind, text, url)


@register.filter
def with_callbacks(changes: Iterable[Any], conversion: Any) -> list[tuple[Any, ChangeCallback]]:
    """Each change paired with its callback (see the module docstring)."""
    changes = list(changes)
    if not changes or conversion is None:
        return [(change, ChangeCallback("none", "—")) for change in changes]
    with connection.cursor() as cursor:
        cursor.execute(
            _SQL, {"changes": [change.pk for change in changes], "partner": conversion.partner_id}
        )
        rows = {row[0]: row for row in cursor.fetchall()}
    return [
        (change, _describe(rows[change.pk], change=change))
        if change.pk in rows
        else (change, ChangeCallback("none", "—"))
        for change in changes
    ]
