"""A job's change set as a person reads it: the money it moves and the list (CSV) of every
conversion it changes.

The change set lives in the job's ``changes`` staging table (``staging``): one row per
conversion, ``status`` the new one, ``expected_status`` the status it must still have when the
job is applied, and the conversion's offer, partner, payout and revenue, taken along by the
validation's join so that the money is one grouping of that table (no second look-up).
"""

# Table names are built from the job's integer id, never from input:
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db import connection

from conversions.audit import amounts_before_join_sql
from conversions.change_sets.money import ChangeSetMoney, change_set_money, status_label
from conversions.change_sets.tables import CHANGES_SQL, StagingTables
from conversions.models import ImportJob
from conversions.reports.csv_writer import csv_chunks
from conversions.reports.formulas import formula_escape

CHANGE_LIST_HEADER = [
    "EventId",
    "gk_click_id",
    "Offer",
    "Partner",
    "Old status",
    "New status",
    "Payout",
    "Revenue",
    "New payout",
    "New revenue",
    "Currency",
    "Reason",
]


def staged_money(tables: StagingTables) -> ChangeSetMoney:
    """What the staged changes move (the conversions that will change, as of now)."""
    return change_set_money(
        changes_sql=f"""SELECT expected_status AS old_status, status AS new_status, payout,
            revenue, new_payout, new_revenue, offer_id, partner_id
            FROM {tables.changes} WHERE {CHANGES_SQL}""",
        params={},
    )


def change_list_rows(import_job: ImportJob) -> Iterator[str]:
    """The CSV (one piece per 2,000 rows) of every conversion the job changes: before it is
    applied, its staged change set; after, what its audit rows say it changed. Payout and
    Revenue are the amounts before the change; New payout and New revenue the ones it sets,
    blank where they stay."""
    tables = StagingTables(import_job.pk)
    conversion = "JOIN conversions_conversion c ON c.id = ch.conversion_id"
    if import_job.state == ImportJob.State.APPLIED:
        # The amounts before: the previous audit row's (the conversion's, for a row written
        # before audit rows recorded amounts, when they had never changed).
        before = amounts_before_join_sql(
            change="sc",
            otherwise=("coalesce(sc.payout, cb.payout)", "coalesce(sc.revenue, cb.revenue)"),
        )
        source = f"""SELECT sc.conversion_id, sc.old_status, sc.new_status, sc.reason,
                   b.payout AS payout_before, b.revenue AS revenue_before,
                   CASE WHEN sc.payout <> b.payout THEN sc.payout END AS new_payout,
                   CASE WHEN sc.revenue <> b.revenue THEN sc.revenue END AS new_revenue
            FROM conversions_statuschange sc
            JOIN conversions_conversion cb ON cb.id = sc.conversion_id
            {before}
            WHERE sc.import_job_id = %(job)s"""
    elif import_job.kind == ImportJob.Kind.UPLOAD:
        # The new conversions do not exist yet: the change set holds what they will be.
        source = f"""SELECT conversion_id, expected_status AS old_status, status AS new_status,
            reason, click_id, offer_id, partner_id, payout AS payout_before,
            revenue AS revenue_before, new_payout, new_revenue FROM {tables.changes}"""
        conversion = ""
    else:
        source = f"""SELECT conversion_id, expected_status AS old_status, status AS new_status,
            reason, payout AS payout_before, revenue AS revenue_before, new_payout, new_revenue
            FROM {tables.changes} WHERE {CHANGES_SQL}"""
    c = "ch" if not conversion else "c"
    sql = f"""
        SELECT ch.conversion_id, cl.gk_click_id, o.name, p.name, ch.old_status, ch.new_status,
               ch.payout_before, ch.revenue_before, ch.new_payout, ch.new_revenue, o.currency,
               ch.reason
        FROM ({source}) ch
        {conversion}
        JOIN conversions_click cl ON cl.id = {c}.click_id
        JOIN conversions_offer o ON o.id = {c}.offer_id
        JOIN callbacks_partner p ON p.id = {c}.partner_id
        ORDER BY ch.conversion_id
    """

    def rows() -> Iterator[list[Any]]:
        connection.ensure_connection()
        # A server-side cursor held across the streamed response's own transactions.
        name = f"change_list_{import_job.pk}"
        with connection.connection.cursor(name=name, withhold=True) as cursor:
            cursor.itersize = 5000
            cursor.execute(sql, {"job": import_job.pk})
            for conversion_id, click, offer, partner, old, new, *rest, reason in cursor:
                yield [
                    conversion_id,
                    click,
                    formula_escape(offer),
                    formula_escape(partner),
                    status_label(old),
                    status_label(new),
                    *rest,
                    formula_escape(reason),
                ]

    return csv_chunks(CHANGE_LIST_HEADER, rows())
