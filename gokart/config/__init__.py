"""The project's knobs: every setting read from the environment, one small module per concern
(``web``, ``database``, ``celery``, ``imports``, ``api``, ``access``, ``tracking``,
``callbacks``), each knob with its default and one line of meaning. ``gokart.settings`` is the
one settings module and reads them all; ``KNOBS`` lists them for the README's configuration
table, which ``tests/test_configuration.py`` holds against it (a knob missing from the table, or
a row naming no knob, fails the suite).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TypeVar

from django.core.exceptions import ImproperlyConfigured

Value = TypeVar("Value", bool, int, float, str, list[str])


@dataclass(frozen=True)
class Knob:
    """One environment variable: its default (when unset) and what it means."""

    name: str
    default: object
    meaning: str


KNOBS: dict[str, Knob] = {}
_TRUE = {"1", "true", "yes", "on"}


def knob(name: str, default: Value, meaning: str) -> Value:
    """The environment variable ``name`` read as ``default``'s type (a bool is "1", "true",
    "yes" or "on"; a list is comma-separated), or ``default`` when it is unset. Registered in
    ``KNOBS`` with ``meaning``. Raises ``ImproperlyConfigured`` for a number that is not one."""
    KNOBS[name] = Knob(name=name, default=default, meaning=meaning)
    raw = os.environ.get(name)
    if raw is None:
        return default
    if isinstance(default, bool):
        return raw.strip().lower() in _TRUE
    if isinstance(default, list):
        return [item.strip() for item in raw.split(",") if item.strip()]
    if isinstance(default, int | float):
        try:
            return type(default)(raw.strip())
        except ValueError:
            kind = "a whole number" if isinstance(default, int) else "a number"
            raise ImproperlyConfigured(f"{name}={raw!r} is not {kind}.") from None
    return raw
