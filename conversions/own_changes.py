"""A user's single changes counted by the hour, for the approval window.

The approval window (``conversions.change_sets.approval``) sums a user's own single changes:
those of a conversion's or a row's buttons and of the Management API's status change, which
are audit rows of source ``admin`` or ``api`` without a job (``OWN_SINGLE_SOURCES``). Summing
the audit rows themselves on every change cost 2 ms more per 1,000 changes in the window,
measured (4,000 changes by one API key: 12.5 ms a change, 9 of them the sum), so a key that
changes steadily slowed down with every change it made. Instead the statement that records
such changes (``conversions.services``) adds them to the user's row for the UTC hour and the
offer's currency (``OwnChangesHour``), and the window sums at most a row per hour and
currency. The hour a window starts in counts whole: the window can only count more, never
less, than the changes of its exact span.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import connection

from callbacks.status_change_rows import StatusChangeRows
from conversions.audit import AuditContext
from conversions.models import Source

OWN_SINGLE_SOURCES = (Source.ADMIN, Source.API)
# Changes counted into a user's row for the hour and currency (``conversions_ownchangeshour w``).
_ADDED_TO_THE_HOUR = """
    ON CONFLICT (user_id, hour, currency) DO UPDATE
    SET conversions = w.conversions + EXCLUDED.conversions, payout = w.payout + EXCLUDED.payout
"""


def own_changes_counted(audit: AuditContext) -> bool:
    """Whether the changes of ``audit`` are a user's own single changes (counted by the hour)."""
    return (
        audit.user_id is not None
        and audit.import_job_id is None
        and audit.source in OWN_SINGLE_SOURCES
    )


def own_changes_record_sql(*, changes: StatusChangeRows) -> str:
    """A CTE, ``own_changes``, that adds the changes of the relation ``changes`` to their
    user's hour (parameters: ``AuditContext.params()`` and ``now``). The payout a change moves
    is the reward owed after it less the one owed before (a Success conversion's payout), as in
    the money, counted whichever way it moves."""
    c = changes
    return f"""
        own_changes AS (
            INSERT INTO conversions_ownchangeshour AS w
                (user_id, hour, currency, conversions, payout)
            SELECT %(audit_user_id)s, date_trunc('hour', %(now)s::timestamptz, 'UTC'),
                   o.currency, count(*),
                   sum(abs(CASE WHEN ch.{c.new_status} = 'success' THEN ch.{c.payout} ELSE 0 END
                           - CASE WHEN ch.{c.old_status} = 'success' THEN ch.{c.old_payout}
                                  ELSE 0 END))
            FROM {c.relation} ch JOIN conversions_offer o ON o.id = ch.{c.offer_id}
            GROUP BY o.currency
            {_ADDED_TO_THE_HOUR}
        )"""  # noqa: S608 -- only our own relation and column names are interpolated


def own_changes_since_sql() -> str:
    """The user's own single changes from the UTC hour of ``since`` on: (currency, conversions,
    payout moved) per currency (parameters ``user_id`` and ``since``). A query to combine: the
    approval window reads it with the user's jobs, in one round trip under its lock."""
    return """
        SELECT currency, sum(conversions), sum(payout) FROM conversions_ownchangeshour
        WHERE user_id = %(user_id)s AND hour >= date_trunc('hour', %(since)s::timestamptz, 'UTC')
        GROUP BY currency
    """


def own_changes_add(
    *, user_id: int, currency: str, conversions: int, payout: Decimal, now: datetime
) -> None:
    """Add changes made another way than by the statement above (the offer page's test
    conversions: ``conversions.test_conversions``) to the user's hour; negative to take back
    what was counted for a change that did not happen."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO conversions_ownchangeshour AS w
                (user_id, hour, currency, conversions, payout)
            VALUES (%s, date_trunc('hour', %s::timestamptz, 'UTC'), %s, %s, %s)
            {_ADDED_TO_THE_HOUR}
            """,  # noqa: S608 -- a constant of this module
            [user_id, now, currency, conversions, payout],
        )
