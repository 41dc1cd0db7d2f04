"""A job's tables, whatever its source: ``StagingTables`` names them, and the statements here
create, read and drop its change set (``changes``: one row per conversion, ``conversion_id``,
``status`` the new one, ``reason``, ``expected_status`` the status it must still have when the
job is applied, the conversion's ``offer_id``, ``partner_id``, ``payout``, ``revenue`` for
the money, and ``new_payout``, ``new_revenue``: the amounts to set, NULL where they stay (an
amounts file's; every other source leaves them NULL): ``CHANGE_COLUMNS``). A row is a real
change when its status or an amount moves (``CHANGES_SQL``). Every source builds its change
set through ``staging_changes_create``, so the shape is written once. A file's own tables (``rows``,
``targets``, ``rejects``) are built by ``conversions.imports.staging``.

The apply reads the change set in chunks of conversion ids, through a temporary view per chunk
(``staging_apply_view``) that the status service takes as its source.
"""

# Table names are built from the job's integer id, never from input:
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connection

# The temporary view through which one chunk of an apply reaches the status service.
APPLY_CHUNK_VIEW = "import_apply_chunk"
# The change set's columns, in this order (the module's docstring says what each holds).
CHANGE_COLUMNS = (
    "conversion_id",
    "status",
    "reason",
    "expected_status",
    "offer_id",
    "partner_id",
    "payout",
    "revenue",
    "new_payout",
    "new_revenue",
)
# The conversion's offer, partner and money, as the change set found them.
MONEY_COLUMNS = CHANGE_COLUMNS[4:8]


def changes_sql(alias: str = "") -> str:
    """Whether a row of a change set (``alias``: its table's alias) changes something: the
    others already are as asked."""
    a = f"{alias}." if alias else ""
    return (
        f"({a}expected_status <> {a}status OR {a}new_payout IS NOT NULL"
        f" OR {a}new_revenue IS NOT NULL)"
    )


CHANGES_SQL = changes_sql()


@dataclass(frozen=True)
class StagingTables:
    job_id: int

    @property
    def rows(self) -> str:
        return f"import_job_{self.job_id}_rows"

    @property
    def targets(self) -> str:
        return f"import_job_{self.job_id}_targets"

    @property
    def rejects(self) -> str:
        return f"import_job_{self.job_id}_rejects"

    @property
    def changes(self) -> str:
        return f"import_job_{self.job_id}_changes"

    def all(self) -> tuple[str, str, str, str]:
        return (self.rows, self.targets, self.rejects, self.changes)


def execute(sql: str, params: Iterable[Any] | Mapping[str, Any] = ()) -> list[tuple[Any, ...]]:
    """Run one statement of ours on the default connection; its rows (none for a command)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params if isinstance(params, Mapping) else list(params))
        return cursor.fetchall() if cursor.description else []


def staging_drop(tables: StagingTables, *, keep_changes: bool = False) -> None:
    for name in tables.all():
        if keep_changes and name == tables.changes:
            continue
        execute(f"DROP TABLE IF EXISTS {name}")


def staging_changes_create(
    tables: StagingTables,
    *,
    select: str,
    params: Iterable[Any] | Mapping[str, Any] = (),
    primary_key: bool = True,
) -> None:
    """Build the change set (``UNLOGGED``: a job can always stage it again) from ``select``, a
    query whose first columns are the change set's in ``CHANGE_COLUMNS`` order: they are named
    here, whatever the query calls them. A column after those keeps its own name, for the
    caller to use and drop. A change set left by an earlier attempt is dropped first.
    ``primary_key``: key it by ``conversion_id`` at once (a caller that still deletes rows keys
    it afterwards, ``staging_changes_key``)."""
    execute(f"DROP TABLE IF EXISTS {tables.changes}")
    execute(
        f"CREATE UNLOGGED TABLE {tables.changes} ({', '.join(CHANGE_COLUMNS)}) AS {select}",
        params,
    )
    if primary_key:
        staging_changes_key(tables)


def staging_changes_key(tables: StagingTables) -> None:
    """Key the change set by ``conversion_id`` (one row per conversion, and the apply's chunks
    read it by ranges of that key)."""
    execute(f"ALTER TABLE {tables.changes} ADD PRIMARY KEY (conversion_id)")


@dataclass(frozen=True)
class StagedChanges:
    """What a change set will do: its real changes by transition (``{"pending->success": n}``,
    a change of amounts alone under its one status, ``"success->success"``), the rows already
    as asked, and the changes that set an amount."""

    will_change: dict[str, int]
    unchanged: int
    amounts: int


def staging_changes_counted(tables: StagingTables) -> StagedChanges:
    """Count the change set by transition (a preview's figures, whatever the source)."""
    will_change: dict[str, int] = {}
    unchanged = amounts = 0
    for expected, status, changes, moved, count in execute(
        f"""SELECT expected_status, status, {CHANGES_SQL},
                   new_payout IS NOT NULL OR new_revenue IS NOT NULL, COUNT(*)
        FROM {tables.changes} GROUP BY 1, 2, 3, 4 ORDER BY 1, 2"""
    ):
        if not changes:
            unchanged += count
            continue
        key = f"{expected}->{status}"
        will_change[key] = will_change.get(key, 0) + count
        amounts += count if moved else 0
    return StagedChanges(will_change=will_change, unchanged=unchanged, amounts=amounts)


def staging_changes_count(tables: StagingTables) -> int | None:
    """How many rows the change set holds, ``None`` when it is gone."""
    with connection.cursor() as cursor:
        if tables.changes not in connection.introspection.table_names(cursor):
            return None
    ((count,),) = execute(f"SELECT COUNT(*) FROM {tables.changes}")
    return count


def staging_apply_chunks(tables: StagingTables, *, chunk_rows: int) -> list[tuple[int, int, int]]:
    """Ranges ``(after id, up to id, rows)`` that split the real changes into chunks."""
    ((total,),) = execute(f"SELECT COUNT(*) FROM {tables.changes} WHERE {CHANGES_SQL}")
    if total == 0:
        return []
    if total <= chunk_rows:
        return [(0, 2**62, total)]
    parts = -(-total // chunk_rows)
    fractions = ", ".join(str(k / parts) for k in range(1, parts))
    ((bounds,),) = execute(
        f"""SELECT percentile_disc(ARRAY[{fractions}]) WITHIN GROUP (ORDER BY conversion_id)
        FROM {tables.changes} WHERE {CHANGES_SQL}"""
    )
    edges = [0, *sorted(set(bounds)), 2**62]
    return [(lo, hi, total // parts) for lo, hi in zip(edges, edges[1:], strict=False)]


def staging_apply_view(
    tables: StagingTables, *, after_id: int, up_to_id: int, extra: tuple[str, ...] = ()
) -> str:
    """A temporary view of one chunk's changes, for the status service (``extra``: more of the
    change set's columns, an upload's new conversions); returns its name."""
    # Replaced in place chunk after chunk; an apply that fails rolls its view back with it,
    # and one that succeeds drops it, so each apply starts without one whatever its columns.
    more = "".join(f", {column}" for column in extra)
    execute(
        f"""CREATE OR REPLACE TEMP VIEW {APPLY_CHUNK_VIEW} AS
        SELECT conversion_id, status, reason, expected_status, new_payout, new_revenue{more}
        FROM {tables.changes}
        WHERE conversion_id > {int(after_id)} AND conversion_id <= {int(up_to_id)}
          AND {CHANGES_SQL}"""
    )
    return APPLY_CHUNK_VIEW


def staging_apply_view_drop() -> None:
    execute(f"DROP VIEW IF EXISTS {APPLY_CHUNK_VIEW}")
