"""The conversion tally: conversions counted by created hour, offer, partner and current status,
with their payout and revenue (``ConversionTally``), kept exact by the status statement.

Why deltas: a tally row per key updated in place would be a hot row that every postback of
that offer and partner waits on, for the length of its transaction. Instead the one statement
that records status changes (``conversions.audit``) appends, per key it touches, one row of
deltas: -1 conversion and minus its money for the old status, +1 and plus its money for the
new one (a postback's first status only adds). A postback writes one small row; a bulk change
of a million conversions a few hundred (grouped by key in the statement).

``conversion_tallies_compact`` (Celery beat, every ``TALLY_COMPACT_SECONDS``) folds each key's
rows into one, in one statement; readers sum over the table either way, so compaction only
keeps it small: about 24 rows a day per offer, partner and status in use.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction

from callbacks.services import StatusChangeRows

# Compactions never run two at a time (the beat schedule could overlap a slow one).
_COMPACT_LOCK = 0x6B617274_7461  # "kart" "ta"


@dataclass(frozen=True)
class TalliedColumns:
    """The columns of a relation of status changes that the tally reads, besides the
    ``partner_id``, ``old_status`` and ``new_status`` of ``StatusChangeRows``."""

    offer_id: str = "offer_id"
    payout: str = "payout"
    revenue: str = "revenue"
    conversion_created_at: str = "conversion_created_at"


def conversion_tally_deltas_insert_sql(
    *, changes: StatusChangeRows, tallied: TalliedColumns
) -> str:
    """An INSERT that adds the tally deltas of a relation of status changes: one row per key,
    none for a key whose deltas cancel out."""
    c, t = changes, tallied
    return f"""
        INSERT INTO conversions_conversiontally (hour, offer_id, partner_id, status,
            conversions, payout, revenue)
        SELECT date_trunc('hour', ch.{t.conversion_created_at}, 'UTC'), ch.{t.offer_id},
               ch.{c.partner_id}, d.status, sum(d.sign), sum(d.sign * ch.{t.payout}),
               sum(d.sign * ch.{t.revenue})
        FROM {c.relation} ch
        CROSS JOIN LATERAL (VALUES (ch.{c.old_status}, -1), (ch.{c.new_status}, 1))
            AS d(status, sign)
        WHERE d.status <> ''
        GROUP BY 1, 2, 3, 4
        HAVING sum(d.sign) <> 0 OR sum(d.sign * ch.{t.payout}) <> 0
            OR sum(d.sign * ch.{t.revenue}) <> 0
    """  # noqa: S608 -- only our own relation and column names are interpolated


COMPACT_SQL = """
    WITH folded AS (
        DELETE FROM conversions_conversiontally WHERE id <= %(last_id)s
        RETURNING hour, offer_id, partner_id, status, conversions, payout, revenue
    )
    INSERT INTO conversions_conversiontally (hour, offer_id, partner_id, status, conversions,
        payout, revenue)
    SELECT hour, offer_id, partner_id, status, sum(conversions), sum(payout), sum(revenue)
    FROM folded
    GROUP BY 1, 2, 3, 4
    HAVING sum(conversions) <> 0 OR sum(payout) <> 0 OR sum(revenue) <> 0
"""


def conversion_tallies_compact() -> int:
    """Fold the tally's rows into one per key; returns the rows removed (0 when another
    compaction is running).

    One statement deletes every row visible now up to the current highest id and inserts their
    sums: rows appended meanwhile, or by transactions not yet committed, stay as they are and
    are folded next time, so the sums never change.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_COMPACT_LOCK])
        if not cursor.fetchone()[0]:
            return 0
        cursor.execute("SELECT count(*), max(id) FROM conversions_conversiontally")
        before, last_id = cursor.fetchone()
        if last_id is None:
            return 0
        cursor.execute(COMPACT_SQL, {"last_id": last_id})
        return before - cursor.rowcount


REBUILD_SQL = """
    INSERT INTO conversions_conversiontally (hour, offer_id, partner_id, status, conversions,
        payout, revenue)
    SELECT date_trunc('hour', created_at, 'UTC'), offer_id, partner_id, status, count(*),
           sum(payout), sum(revenue)
    FROM conversions_conversion
    GROUP BY 1, 2, 3, 4
"""


def conversion_tally_rebuild() -> None:
    """Count the tally again from the conversions (a repair, e.g. after conversions were
    written outside the status service). Status changes wait meanwhile: the conversions table
    is locked against writes for the full scan (about a minute per 20M conversions)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("LOCK TABLE conversions_conversion IN SHARE MODE")
        cursor.execute("DELETE FROM conversions_conversiontally")
        cursor.execute(REBUILD_SQL)
