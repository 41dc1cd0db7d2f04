"""How callback deliveries read in the admin: state badges in delivery words, payloads in the
public interface's key order, times to the second."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timezone import localtime

from callbacks.callback_fields import CONVERSION_KEYS
from callbacks.models import CallbackDelivery

State = CallbackDelivery.State

# The payload's keys in the order of the public interface (PostgreSQL's jsonb reorders them).
_PAYLOAD_ORDER = ["id", "sentAt", "conversion"]
_CONVERSION_ORDER = list(CONVERSION_KEYS)


def delivery_state_label(state: str, *, attempts: int = 0, sent_wording: bool = False) -> str:
    """A delivery state in delivery words, apart from the conversion statuses: a pending one
    is "Due" before its first attempt and "Retrying" after; held is "Held (partner paused)".
    ``sent_wording`` reads "Sent" for delivered, as the conversion list's column does."""
    if state == State.PENDING:
        return "Retrying" if attempts else "Due"
    if state == State.DELIVERED and sent_wording:
        return "Sent"
    return State(state).label


def delivery_state_badge(
    state: str | None, *, attempts: int = 0, sent_wording: bool = False
) -> SafeString:
    """A delivery state as a coloured badge; ``None`` (no callback owed) as a dash."""
    if not state:
        return format_html('<span class="gk-callback-none" title="{}">—</span>', "No callback owed")
    label = delivery_state_label(state, attempts=attempts, sent_wording=sent_wording)
    kind = "retrying" if state == State.PENDING and attempts else state
    return format_html('<span class="gk-callback gk-callback-{}">{}</span>', kind, label)


def _ordered(value: dict[str, Any], order: list[str]) -> dict[str, Any]:
    rank = {key: position for position, key in enumerate(order)}
    return dict(sorted(value.items(), key=lambda item: (rank.get(item[0], len(rank)), item[0])))


def payload_in_public_order(payload: dict[str, Any]) -> dict[str, Any]:
    """The stored payload with its keys in the order the public interface lists them."""
    ordered = _ordered(payload, _PAYLOAD_ORDER)
    if isinstance(ordered.get("conversion"), dict):
        ordered["conversion"] = _ordered(ordered["conversion"], _CONVERSION_ORDER)
    return ordered


def moment_format(moment: datetime | None) -> str:
    """A time to the second, in the site's time zone: attempts minutes apart must differ."""
    return localtime(moment).strftime("%Y-%m-%d %H:%M:%S %Z") if moment else "—"


def plural(count: int, word: str) -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")
