"""Tracking: recording clicks and the conversions that advertisers' postbacks report.

A postback is validated in this order, and the first failure answers:

1. unknown ``gk_click_id`` → 404; 2. token neither the offer's postback secret nor one it
   replaced whose grace has not run out (``conversions.postback_tokens``) → 403;
3. ``event`` unknown to the offer, or left out on a multi-event offer → 400.

Nothing is recorded for those. A postback that gets past them is attributable and is recorded
(once: a repeat by click and event, or by the offer's transaction id, answers the conversion
already recorded with ``duplicate=True``), with the status the offer gives it, by the first of
these rules that applies (``_STATUS_RULES``, in SQL, where it runs):

- inactive offer → Rejected, "Offer is inactive.";
- click older than the offer's attribution window → Rejected, with that reason;
- manual offer → Pending (until an admin decides);
- automatic offer with a pending time → Pending until then (``pending_until``), after which
  the pending-time task moves it to Success;
- automatic offer → Success.

**One round trip per postback.** Attribution (click, offer, accepted tokens, event), the checks
above, the status rules, the duplicate rules, the conversion, its first ``StatusChange`` audit
row (old status "" → new, source postback, sequence 1, the first link of its hash chain),
its ``CallbackDelivery`` outbox row when the partner wants that status, and the conversion
tally's +1 are one statement (data-modifying CTEs, the audit trail's writer
``conversions.audit`` chained to the ``INSERT … ON CONFLICT DO NOTHING``), which also answers
the refusal, or the conversion already recorded for a duplicate. Concurrent copies of one
postback are settled by the unique constraints, never by a read-then-write race; the copy that
lost such a race to a transaction committed while it ran (its snapshot cannot see that row)
reads the winner in a second statement, the only case with two. A click is one statement too
(offer and partner checked, the click inserted). Parameters are checked before the database
is touched (``conversions.views``). On the tracking tier each statement is prepared once per
pooled connection (``gokart.tracking.settings``): a request sends only its parameters.

The token is compared in SQL, as its digest (``gokart.encryption.token_digest``: hint, ``$``,
SHA-256): what equality's timing could tell an attacker is how many leading characters of a
digest match, which says nothing of the token beyond the hint the admin shows anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from django.db import IntegrityError, connection
from django.db.models import Q
from django.utils import timezone

from callbacks import services as callback_services
from callbacks.status_change_rows import StatusChangeRows
from conversions.audit import (
    AuditContext,
    callback_owed_sql_for,
    first_status_sql,
    status_changes_record_sql,
)
from conversions.landing_urls import landing_url_fill
from conversions.models import Click, Conversion, Offer, Source, Status
from conversions.raw_statements import RawStatement, columns_sql, insert_columns, insert_values
from conversions.tracking_parameters import AdvertiserValues, ClickValues
from gokart.encryption import token_digest


class TrackingError(Exception):
    """A request that cannot be attributed: nothing is recorded, the caller gets ``status``."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class PostbackResult:
    conversion_id: int
    status: str
    duplicate: bool


def click_record(
    *,
    offer_id: int,
    partner_id: int,
    values: ClickValues,
    ip_address: str | None,
    is_test: bool = False,
) -> tuple[Click, str]:
    """Record a click with the partner's values (a test click when ``is_test``: its ticket is
    checked already); returns it and the offer's landing URL with its macros filled
    (``conversions.landing_urls``).

    Raises ``TrackingError`` (404) for an unknown or inactive offer or partner. One statement.
    """
    click = Click(
        offer_id=offer_id,
        partner_id=partner_id,
        sub_id=values.pub_member_id,
        pub_click_id=values.pub_click_id,
        ip_address=ip_address,
        is_test=is_test,
        **{f"pub_sub_{n}": value for n, value in enumerate(values.pub_subs, start=1)},
    )
    params = {f"click_{column}": value for column, value in insert_values(click).items()}
    row = _click_statement().execute(params)
    if row is None:  # its scalar subqueries always make one row
        raise IntegrityError("The click statement returned no row.")
    offer_active, landing_url, offer_name, partner_active, click_pk = row
    if offer_active is None:
        raise TrackingError(f"Unknown offer {offer_id}.", status=404)
    if not offer_active:
        raise TrackingError(f"Offer {offer_id} is not active.", status=404)
    if partner_active is None:
        raise TrackingError(f"Unknown partner {partner_id}.", status=404)
    if not partner_active:
        raise TrackingError(f"Partner {partner_id} is not active.", status=404)
    click.pk = click_pk
    click._state.adding = False
    click._state.db = connection.alias
    return click, landing_url_fill(landing_url, click=click, offer_name=offer_name)


@cache
def _click_statement() -> RawStatement:
    columns = insert_columns(Click)
    placeholders = ", ".join(f"%(click_{column})s" for column in columns)
    return RawStatement(f"""
        WITH offer AS (
            SELECT o.is_active, o.landing_url, o.name FROM conversions_offer o
            WHERE o.id = %(click_offer_id)s::bigint
        ),
        partner AS (
            SELECT p.is_active FROM callbacks_partner p
            WHERE p.id = %(click_partner_id)s::bigint
        ),
        inserted AS (
            INSERT INTO conversions_click ({columns_sql(columns)})
            SELECT {placeholders} FROM offer o, partner p WHERE o.is_active AND p.is_active
            RETURNING id
        )
        SELECT (SELECT is_active FROM offer), (SELECT landing_url FROM offer),
               (SELECT name FROM offer), (SELECT is_active FROM partner),
               (SELECT id FROM inserted)
    """)  # noqa: S608 -- only column names are interpolated


def conversion_record_from_postback(
    *,
    gk_click_id: str,
    event_code: str | None,
    transaction_id: str,
    token: str,
    advertiser_values: AdvertiserValues | None = None,
    now: datetime | None = None,
) -> PostbackResult:
    """Record the conversion a postback reports, idempotently (see the module docstring), with
    what the advertiser said of it (``advertiser_values``: checked already, stored as given).

    Raises ``TrackingError`` for a postback that cannot be attributed (404 unknown click, 403
    bad token, 400 unknown or missing event). Callbacks are queued after commit.
    """
    now = now or timezone.now()
    params = _postback_params(
        {
            "status_source": Source.POSTBACK.value,
            "status_changed_at": now,
            "status_version": 1,
            "transaction_id": transaction_id,
            "created_at": now,
            **(advertiser_values or AdvertiserValues()).columns(),
        }
    )
    params.update(
        gk_click_id=gk_click_id,
        event_code=event_code or "",
        token=str(token_digest(token)),
        now=now,
        **_STATUS_REASONS,
    )
    row = _postback_statement(event_named=bool(event_code)).execute(params)
    if row is None:
        raise TrackingError("Unknown gk_click_id.", status=404)
    outcome = _PostbackOutcome(*row)
    if outcome.refusal:
        raise _refusal_error(outcome.refusal, event_code=event_code)
    if outcome.conversion_id is not None:
        if outcome.deliveries:
            callback_services.callback_deliveries_dispatch_on_commit()
        return PostbackResult(
            conversion_id=outcome.conversion_id, status=outcome.status, duplicate=False
        )
    if outcome.duplicate_id is not None:
        return PostbackResult(
            conversion_id=outcome.duplicate_id, status=outcome.duplicate_status, duplicate=True
        )
    return _duplicate_committed_meanwhile(outcome, transaction_id=transaction_id)


def _postback_params(values: dict[str, Any]) -> dict[str, Any]:
    """The statement's parameters: the conversion's columns given in ``values``, the others as
    a conversion built without them would insert them (``_unattributed_defaults``), and the
    audit's."""
    params = dict(_unattributed_defaults())
    for column, value in values.items():
        params[f"conversion_{column}"] = value
    # The sale amount and the address as text, typed by their columns: as a Decimal or an
    # address they would be sent with other parameter types than when absent, and each set of
    # types is a statement of its own to prepare and plan on every tracking-tier connection.
    for column in ("cnv_amount", "cnv_conversion_ip_address"):
        value = params[f"conversion_{column}"]
        params[f"conversion_{column}"] = None if value is None else str(value)
    return params


@cache
def _unattributed_defaults() -> dict[str, Any]:
    """The parameters of every column the attribution does not fill, as ``Model.save()`` would
    insert them for a conversion built with nothing (so a column added later with a default is
    written too), and the audit's; built once per process (a model instance and its values
    cost a postback 65 µs)."""
    params: dict[str, Any] = {
        f"conversion_{column}": value
        for column, value in insert_values(Conversion()).items()
        if column not in _ATTRIBUTED
    }
    params.update(AuditContext(source=Source.POSTBACK).params())
    return params


@dataclass(frozen=True)
class _PostbackOutcome:
    """The postback statement's one row (none: unknown click)."""

    refusal: str | None  # bad_token, no_event, several_events; None: attributed
    click_id: int | None
    offer_event_id: int | None
    offer_id: int | None
    conversion_id: int | None  # recorded now
    status: str
    deliveries: int
    duplicate_id: int | None  # recorded before
    duplicate_status: str


def _refusal_error(refusal: str, *, event_code: str | None) -> TrackingError:
    if refusal == "bad_token":
        return TrackingError("Invalid token.", status=403)
    if refusal == "several_events":
        return TrackingError(
            "Missing parameter 'event': this offer has several events.", status=400
        )
    if event_code:
        return TrackingError(f"Unknown event {event_code!r} for this offer.", status=400)
    return TrackingError("This offer has no events to record.", status=400)


# The conversion's columns that come from its attribution (the SQL expression of each, over
# ``new_conversion n``) rather than from the instance built in Python.
_ATTRIBUTED = {
    "click_id": "n.click_id",
    "offer_event_id": "n.offer_event_id",
    "offer_id": "n.offer_id",
    "partner_id": "n.partner_id",
    "status": "n.status",
    "status_reason": "n.reason",
    "pending_until": "n.pending_until",
    "payout": "n.payout",
    "revenue": "n.revenue",
}

_STATUS_REASONS = {
    "reason_offer_inactive": "Offer is inactive.",
    "reason_outside_window": "Conversion is outside the offer's attribution window.",
}

# The new conversion's status, reason and pending_until: the first rule that applies, in order
# (the module docstring's list), over the attributed postback ``v``.
_STATUS_RULES = f"""
    SELECT r.status, r.reason, r.pending_until FROM (VALUES
        (1, NOT v.offer_is_active, '{Status.REJECTED}', %(reason_offer_inactive)s,
            NULL::timestamptz),
        (2, %(now)s - v.clicked_at > v.attribution_window, '{Status.REJECTED}',
            %(reason_outside_window)s, NULL),
        (3, v.rewarding_mode = '{Offer.RewardingMode.MANUAL}', '{Status.PENDING}', '', NULL),
        (4, coalesce(v.pending_time <> interval '0', false), '{Status.PENDING}', '',
            %(now)s + v.pending_time),
        (5, true, '{Status.SUCCESS}', '', NULL)
    ) AS r(rank, applies, status, reason, pending_until)
    WHERE r.applies ORDER BY r.rank LIMIT 1
"""  # noqa: S608 -- only our own enum values are interpolated

# The click, its offer, whether the token is accepted (the offer's current token, or one it
# replaced whose grace has not run out, from their (offer, expires_at) index: usually none) and
# the event: the one named by the postback, or (when it names none) the offer's first two, to
# tell a single-event offer from a multi-event one.
_ATTRIBUTION = """
    SELECT c.id AS click_id, c.partner_id, c.created_at AS clicked_at, o.id AS offer_id,
           o.is_active AS offer_is_active, o.rewarding_mode, o.pending_time,
           o.attribution_window,
           (o.postback_secret = %(token)s OR EXISTS (
               SELECT FROM conversions_replacedpostbacktoken r
               WHERE r.offer_id = o.id AND r.expires_at > %(now)s AND r.token = %(token)s
           )) AS token_accepted,
           e.id AS offer_event_id, e.payout, e.revenue
    FROM conversions_click c
    JOIN conversions_offer o ON o.id = c.offer_id
    LEFT JOIN conversions_offerevent e ON e.offer_id = o.id AND {event_condition}
    WHERE c.gk_click_id = %(gk_click_id)s
    ORDER BY e.id
    LIMIT 2
"""

# The conversion already recorded for the same click and event, or the same transaction id on
# the offer (each on its unique index), read only when nothing was inserted.
_DUPLICATE = """
    SELECT d.id, d.status FROM (
        (SELECT d.id, d.status FROM conversions_conversion d
         WHERE d.click_id = v.click_id AND d.offer_event_id = v.offer_event_id)
        UNION ALL
        (SELECT d.id, d.status FROM conversions_conversion d
         WHERE d.transaction_id = %(conversion_transaction_id)s AND d.transaction_id <> ''
           AND d.offer_id = v.offer_id)
    ) d
    WHERE v.refusal IS NULL AND NOT EXISTS (SELECT FROM inserted)
    ORDER BY d.id LIMIT 1
"""


@cache
def _postback_statement(*, event_named: bool) -> RawStatement:
    """The postback's one statement (two texts: with and without an event code, each prepared
    once per connection on the tracking tier)."""
    columns = insert_columns(Conversion)
    values = ", ".join(_ATTRIBUTED.get(column, f"%(conversion_{column})s") for column in columns)
    changes = StatusChangeRows("first_change")
    # The link is written with the conversion, so its id is drawn first; whether the status
    # owes a callback is decided once, in ``new_conversion``, for the hash, the audit row and
    # the outbox insert.
    changes_columns, chain_hash = first_status_sql(
        changes,
        conversion_id="n.id",
        sequence_number="%(conversion_status_version)s::bigint",
        created_at="%(conversion_status_changed_at)s::timestamptz",
    )
    attribution = _ATTRIBUTION.format(
        event_condition="e.code = %(event_code)s" if event_named else "true"
    )
    return RawStatement(f"""
        WITH attribution AS ({attribution}),
        verdict AS (
            SELECT a.*, CASE WHEN NOT a.token_accepted THEN 'bad_token'
                             WHEN a.offer_event_id IS NULL THEN 'no_event'
                             WHEN (SELECT count(*) FROM attribution) > 1 THEN 'several_events'
                        END AS refusal
            FROM attribution a
            LIMIT 1
        ),
        new_conversion AS (
            SELECT v.click_id, v.offer_event_id, v.offer_id, v.partner_id, v.payout, v.revenue,
                   s.status, s.reason, s.pending_until,
                   nextval(pg_get_serial_sequence('conversions_conversion', 'id')) AS id,
                   {callback_owed_sql_for(partner="p", status="s.status")} AS callback_owed
            FROM verdict v
            CROSS JOIN LATERAL ({_STATUS_RULES}) s
            JOIN callbacks_partner p ON p.id = v.partner_id
            WHERE v.refusal IS NULL
        ),
        inserted AS (
            INSERT INTO conversions_conversion AS c (id, {columns_sql(columns)}, audit_chain_hash)
            SELECT n.id, {values}, {chain_hash} FROM new_conversion n
            ON CONFLICT DO NOTHING
            RETURNING c.*
        ),
        first_change AS (
            SELECT {changes_columns} FROM inserted c CROSS JOIN new_conversion n
        ),
        {status_changes_record_sql(changes=changes, send_callbacks=True)}
        SELECT v.refusal, v.click_id, v.offer_event_id, v.offer_id,
               ch.{changes.conversion_id}, ch.{changes.new_status},
               (SELECT count(*) FROM deliveries), dup.id, dup.status
        FROM verdict v
        LEFT JOIN first_change ch ON true
        LEFT JOIN LATERAL ({_DUPLICATE}) dup ON true
    """)  # noqa: S608 -- only column names and our own SQL fragments are interpolated


def _duplicate_committed_meanwhile(
    outcome: _PostbackOutcome, *, transaction_id: str
) -> PostbackResult:
    """The conversion that a concurrent copy of this postback committed while its statement
    ran (that statement's snapshot could not see it), read now."""
    same = Q(click_id=outcome.click_id, offer_event_id=outcome.offer_event_id)
    if transaction_id:
        same |= Q(offer_id=outcome.offer_id, transaction_id=transaction_id)
    existing = Conversion.objects.filter(same).order_by("pk").values_list("pk", "status").first()
    if existing is None:  # the constraint that refused the row is not one of ours
        raise IntegrityError("Postback refused by a constraint, but no duplicate was found.")
    return PostbackResult(conversion_id=existing[0], status=existing[1], duplicate=True)
