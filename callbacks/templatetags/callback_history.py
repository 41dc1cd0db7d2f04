"""``{% for change, callback in status_history|with_callbacks %}``: each status change of a
conversion's history with its callback's state, for the conversion page.

Whether a change owed a callback is read from its own audit row (``callback_owed``,
``callbacks_suppressed``), recorded when the change was made by the one rule
(``callbacks.services.callback_owed_sql``): never from the partner's settings of today, which
may have changed since. One query for the page, whatever its length: the changes' deliveries,
by the unique ``(status_change, kind)`` index. A change that owed a JSON callback and templated
postbacks reads as each of them in turn ("Callback: Delivered …; Global postback: Failed …"),
coloured and linked by the least advanced one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django import template
from django.urls import reverse

from callbacks.admin.delivery_display import delivery_state_label, moment_format
from callbacks.models import CallbackDelivery

register = template.Library()

_DELIVERY_FIELDS = (
    "status_change_id",
    "kind",
    "state",
    "attempts",
    "last_response_status",
    "delivered_at",
    "next_attempt_at",
    "last_error",
)


@dataclass(frozen=True)
class ChangeCallback:
    """What became of one status change's callback, in a few words, and where to look."""

    kind: str  # a delivery state (the badge's colour), or "none" when no callback was owed
    text: str
    url: str = ""


def _not_sent(change: Any) -> ChangeCallback:
    if change.callbacks_suppressed:
        return ChangeCallback("none", "Not sent: suppressed by the import")
    if change.callback_owed:
        # The audit trail's check reports this too (an owed change must have its outbox row).
        return ChangeCallback("none", "Owed, but no delivery was recorded")
    return ChangeCallback(
        "none",
        f"Not owed: the partner took no {change.get_new_status_display()} callbacks then",
    )


def _describe(delivery: CallbackDelivery) -> ChangeCallback:
    state, attempts, status = delivery.state, delivery.attempts, delivery.last_response_status
    url = reverse("admin:callbacks_callbackdelivery_change", args=[delivery.pk])
    kind = "retrying" if state == "pending" and attempts else state
    if state == "delivered":
        text = f"Delivered: HTTP {status} at {moment_format(delivery.delivered_at)}"
    elif state == "failed":
        text = f"Failed: {delivery.last_error or (f'HTTP {status}' if status else 'no answer')}"
    elif state == "pending" and attempts:
        text = f"Retrying: next attempt {moment_format(delivery.next_attempt_at)}"
    else:
        text = delivery_state_label(state, attempts=attempts)
    return ChangeCallback(kind, text, url)


# The least advanced first: the one that colours and links a change's several deliveries.
_LEAST_ADVANCED_FIRST = ["failed", "held", "retrying", "pending", "delivered"]
_KIND_WORDS: dict[str, str] = {
    CallbackDelivery.Kind.CALLBACK: "Callback",
    CallbackDelivery.Kind.POSTBACK: "Global postback",
    CallbackDelivery.Kind.EVENT_POSTBACK: "Event postback",
}


def _describe_all(deliveries: list[CallbackDelivery]) -> ChangeCallback:
    if len(deliveries) == 1:
        return _describe(deliveries[0])
    described = [(_describe(d), d.kind) for d in sorted(deliveries, key=lambda d: d.kind)]
    shown = min(
        (callback for callback, _ in described),
        key=lambda callback: _LEAST_ADVANCED_FIRST.index(callback.kind),
    )
    text = "; ".join(f"{_KIND_WORDS[kind]}: {callback.text}" for callback, kind in described)
    return ChangeCallback(shown.kind, text, shown.url)


@register.filter
def with_callbacks(changes: Iterable[Any]) -> list[tuple[Any, ChangeCallback]]:
    """Each change (a ``StatusChange``) paired with its callback (see the module docstring)."""
    changes = list(changes)
    if not changes:
        return []
    deliveries = CallbackDelivery.objects.filter(
        status_change_id__in=[change.pk for change in changes]
    ).only(*_DELIVERY_FIELDS)
    by_change: dict[int, list[CallbackDelivery]] = {}
    for delivery in deliveries:
        by_change.setdefault(delivery.status_change_id, []).append(delivery)
    return [
        (change, _describe_all(by_change[change.pk]))
        if change.pk in by_change
        else (change, _not_sent(change))
        for change in changes
    ]
