"""The one rule for cells a spreadsheet would run as formulas: written with a leading apostrophe.

Used by the report export (``formula_escape``), by the rejected-rows report of an import, which
PostgreSQL writes with COPY (``formula_escape_sql``, generated from the same prefixes), and by
the import, which takes the apostrophe off again (``formula_unescape``) so that an exported,
edited and re-imported report keeps its values.
"""

from __future__ import annotations

# A cell starting with one of these is a formula to a spreadsheet.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def formula_escape(value: str) -> str:
    """Prefix a cell a spreadsheet would run as a formula with an apostrophe."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def formula_unescape(value: str) -> str:
    """``formula_escape`` undone: the apostrophe before a formula prefix taken off."""
    if value[:1] == "'" and value[1:2] in FORMULA_PREFIXES and value[1:2]:
        return value[1:]
    return value


def formula_escape_sql(column: str) -> str:
    """``formula_escape`` as a PostgreSQL expression over ``column`` (a trusted SQL name)."""
    prefixes = ", ".join(f"chr({ord(p)})" if p in "\t\r" else f"'{p}'" for p in FORMULA_PREFIXES)
    return (
        f"CASE WHEN substr({column}, 1, 1) IN ({prefixes}) THEN '''' || {column} ELSE {column} END"
    )
