"""Tracking's statements as they are sent: :class:`RawStatement` (named placeholders written,
PostgreSQL's own sent) and the column values of an insert built from a model instance.

Why a raw cursor: psycopg parses a statement for its placeholders on every call, keeping the
parse only of statements under 4,096 characters; the postback's is 7,800, and parsing it was a
tenth of a postback's Python time (measured). A statement with ``$1``… placeholders sent
through ``psycopg.RawCursor`` is not parsed at all, and its parameters are bound on the server
(so that, on the tracking tier, it is prepared once per connection: ``gokart.tracking.settings``).
"""

from __future__ import annotations

import re
from typing import Any

import psycopg
from django.db import connection
from django.db.backends.utils import CursorWrapper
from django.db.models import Model


class RawStatement:
    """A statement written with named placeholders (``%(name)s``), sent with ``$1``… through
    a psycopg raw cursor. Through Django's cursor wrapper, so its error translation and
    ``execute_wrapper`` hooks apply (it is left out of ``DEBUG``'s query log)."""

    def __init__(self, sql: str, *, prepare: bool = False) -> None:
        """``prepare``: prepared on its first execution on a connection, on any tier (the
        tracking tier prepares every statement: ``gokart.tracking.settings``)."""
        self.prepare = prepare
        names: list[str] = []

        def numbered(match: re.Match[str]) -> str:
            if match.group(1) not in names:
                names.append(match.group(1))
            return f"${names.index(match.group(1)) + 1}"

        self.sql = re.sub(r"%\((\w+)\)s", numbered, sql)
        self.names = tuple(names)

    def execute(self, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """Run it with ``params`` (by name, extra names ignored); its first row."""
        rows = self.rows(params)
        return rows[0] if rows else None

    def rows(self, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Run it with ``params`` (by name, extra names ignored); every row it answers."""
        connection.ensure_connection()
        raw = (
            _PreparedCursor(_preparing(connection.connection))
            if self.prepare
            else psycopg.RawCursor(connection.connection)
        )
        # Not the debug wrapper: it would render the statement for DEBUG's query log with the
        # client-side placeholders it does not have.
        with CursorWrapper(raw, connection) as cursor:
            cursor.execute(self.sql, [params[name] for name in self.names])
            return cursor.fetchall()


# psycopg prepares nothing on a connection whose ``prepare_threshold`` is None (Django's
# default, for PgBouncer in transaction mode: README, "Deploying"), not even a statement asked to
# be. A threshold no statement reaches prepares those asked for, and only those.
_ONLY_WHEN_ASKED = 2**31 - 1


def _preparing(raw: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    if raw.prepare_threshold is None:
        raw.prepare_threshold = _ONLY_WHEN_ASKED
    return raw


class _PreparedCursor(psycopg.RawCursor[Any]):
    """A raw cursor that asks for its statements to be prepared."""

    def execute(self, query: Any, params: Any = None, **options: Any) -> Any:
        return super().execute(query, params, **{**options, "prepare": True})


def insert_columns(model: type[Model]) -> list[str]:
    """The columns an insert writes (every concrete field but the primary key), in the order
    of :func:`insert_values`."""
    return [str(field.column) for field in model._meta.concrete_fields if not field.primary_key]


def columns_sql(columns: list[str]) -> str:
    """``columns`` quoted, as an insert's column list."""
    return ", ".join(connection.ops.quote_name(column) for column in columns)


def insert_values(instance: Model) -> dict[str, Any]:
    """Database values of an unsaved instance by column, as ``Model.save()`` would insert them
    (so a field added later with a default is written too)."""
    return {
        str(field.column): field.get_db_prep_save(field.pre_save(instance, True), connection)
        for field in instance._meta.concrete_fields
        if not field.primary_key
    }
