"""The audit trail proves itself: each row's hash chains it to the previous one of its
conversion, the database refuses rewriting rows and deleting conversions, and ``audit_verify``
finds a rewrite made with the triggers off."""

import hashlib
from calendar import timegm
from importlib import import_module
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction

from conversions.models import Conversion, Source, Status, StatusChange
from conversions.services import conversion_status_set
from conversions.tracking import conversion_record_from_postback
from tests.audit import assert_audit_intact, audit_triggers_off

pytestmark = pytest.mark.django_db


def verify() -> tuple[bool, str]:
    out = StringIO()
    try:
        call_command("audit_verify", stdout=out)
    except CommandError:
        return False, out.getvalue()
    return True, out.getvalue()


def hashes(conversion_id: int) -> tuple[list[bytes], bytes]:
    """The chain hashes of a conversion's audit rows, in order, and the one it keeps."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT chain_hash FROM conversions_statuschange WHERE conversion_id = %s"
            " ORDER BY sequence_number",
            [conversion_id],
        )
        rows = [bytes(row[0]) for row in cursor.fetchall()]
        cursor.execute(
            "SELECT audit_chain_hash FROM conversions_conversion WHERE id = %s", [conversion_id]
        )
        kept = bytes(cursor.fetchone()[0])
    return rows, kept


def expected_hash(change: StatusChange, previous: bytes) -> bytes:
    """The encoding as migrations 0015 (version 1) and 0027 (version 2, for rows with amounts)
    document it, written out again here to pin it: a change to the database function that is
    not a new version fails this test."""
    at = change.created_at
    epoch = f"{timegm(at.utctimetuple())}.{at.microsecond:06d}"
    with_amounts = change.payout is not None or change.revenue is not None
    amounts = [
        "" if amount is None else f"{amount:.4f}" for amount in (change.payout, change.revenue)
    ]
    fields = [
        "status_change.v2" if with_amounts else "status_change.v1",
        change.conversion_id,
        change.sequence_number,
        change.old_status,
        change.new_status,
        change.source,
        change.user_id or "",
        change.import_job_id or "",
        "t" if change.callbacks_suppressed else "f",
        "t" if change.callback_owed else "f",
        epoch,
        *(amounts if with_amounts else []),
        len(change.reason),
        change.reason,
    ]
    return hashlib.sha256("|".join(str(f) for f in fields).encode() + previous).digest()


@pytest.fixture
def changed_twice(conversion_factory, partner_factory, admin_user):
    """A conversion of a partner with callbacks, Pending → Success → Rejected by an admin."""
    partner = partner_factory(callback_url="http://127.0.0.1:9/cb", rejected_callbacks_enabled=True)
    conversion = conversion_factory(click__partner=partner, status=Status.PENDING)
    conversion_status_set(
        conversion_ids=[conversion.pk], status=Status.SUCCESS, source=Source.ADMIN, user=admin_user
    )
    conversion_status_set(
        conversion_ids=[conversion.pk],
        status=Status.REJECTED,
        source=Source.ADMIN,
        user=admin_user,
        reason="Fraud | chargeback",
    )
    return conversion


def test_each_change_is_chained_to_the_previous_one_by_its_hash(changed_twice):
    rows, kept = hashes(changed_twice.pk)

    previous = b""
    for change, stored in zip(
        StatusChange.objects.filter(conversion=changed_twice).order_by("sequence_number"),
        rows,
        strict=True,
    ):
        assert stored == expected_hash(change, previous)
        previous = stored
    assert kept == rows[-1]
    assert len(set(rows)) == 3
    assert_audit_intact()


def test_a_postback_writes_the_first_link(click_factory, offer_event_factory, partner_factory):
    partner = partner_factory(callback_url="http://127.0.0.1:9/cb")
    click = click_factory(partner=partner)
    event = offer_event_factory(offer=click.offer)

    result = conversion_record_from_postback(
        gk_click_id=click.gk_click_id,
        event_code=event.code,
        transaction_id="t-1",
        token=click.offer.postback_secret,
    )

    change = StatusChange.objects.get(conversion_id=result.conversion_id)
    rows, kept = hashes(result.conversion_id)
    assert change.callback_owed is True
    assert (change.payout, change.revenue) == (event.payout, event.revenue)
    assert rows == [kept] == [expected_hash(change, b"")]
    assert_audit_intact()


@pytest.mark.audit_broken
def test_a_consistent_rewrite_of_status_and_last_row_is_caught(changed_twice):
    # A superuser turns the triggers off and makes the conversion Success again, its last
    # audit row saying so: the statuses still chain, but the row no longer matches its hash.
    with audit_triggers_off(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE conversions_conversion SET status = 'success' WHERE id = %s",
            [changed_twice.pk],
        )
        cursor.execute(
            "UPDATE conversions_statuschange SET new_status = 'success', reason = ''"
            " WHERE conversion_id = %s AND sequence_number = 3",
            [changed_twice.pk],
        )

    ok, out = verify()

    assert not ok
    assert (
        f"conversion {changed_twice.pk}: audit row 3 does not match its hash (it, or the row "
        "before it, was changed after it was written)" in out
    )


def test_each_change_records_the_amounts_it_left(changed_twice):
    changes = StatusChange.objects.filter(conversion=changed_twice).order_by("sequence_number")

    assert [(c.new_status, c.payout, c.revenue) for c in changes] == [
        (status, changed_twice.payout, changed_twice.revenue)
        for status in (Status.PENDING, Status.SUCCESS, Status.REJECTED)
    ]


@pytest.mark.audit_broken
def test_an_amount_changed_behind_the_trail_is_named(changed_twice):
    # Someone with database access raises the payout without a status change: the statuses
    # and hashes still chain, but the conversion's amounts are not its last audit row's.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE conversions_conversion SET payout = payout + 100 WHERE id = %s",
            [changed_twice.pk],
        )

    ok, out = verify()

    assert not ok
    payout, revenue = changed_twice.payout, changed_twice.revenue
    assert (
        f"conversion {changed_twice.pk}: has payout {payout + 100:.4f} and revenue "
        f"{revenue:.4f} but its last audit row says {payout:.4f} and {revenue:.4f}" in out
    )


@pytest.mark.audit_broken
def test_a_row_rewritten_with_a_new_hash_breaks_the_next_link(changed_twice):
    # The rewrite of row 2 recomputes its hash too: row 3 was chained to the old one.
    with audit_triggers_off(), connection.cursor() as cursor:
        cursor.execute(
            """UPDATE conversions_statuschange SET reason = 'Advertiser confirmed',
                   chain_hash = conversions_status_change_hash(
                       conversion_id => conversion_id, sequence_number => sequence_number,
                       old_status => old_status, new_status => new_status, source => source,
                       user_id => user_id, import_job_id => import_job_id,
                       callbacks_suppressed => callbacks_suppressed,
                       callback_owed => callback_owed, created_at => created_at,
                       reason => 'Advertiser confirmed', payout => payout,
                       revenue => revenue,
                       previous_hash => (SELECT chain_hash FROM conversions_statuschange
                                         WHERE conversion_id = %s AND sequence_number = 1))
               WHERE conversion_id = %s AND sequence_number = 2""",
            [changed_twice.pk, changed_twice.pk],
        )

    ok, out = verify()

    assert not ok
    assert f"conversion {changed_twice.pk}: audit row 3 does not match its hash" in out


@pytest.mark.audit_broken
def test_a_last_row_rewritten_with_its_hash_differs_from_the_kept_one(changed_twice):
    with audit_triggers_off(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE conversions_statuschange SET chain_hash = sha256('forged')"
            " WHERE conversion_id = %s AND sequence_number = 3",
            [changed_twice.pk],
        )

    ok, out = verify()

    assert not ok
    assert f"conversion {changed_twice.pk}: audit row 3 does not match its hash" in out


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE conversions_statuschange SET reason = 'edited' WHERE conversion_id = %s",
        "DELETE FROM conversions_statuschange WHERE conversion_id = %s",
    ],
)
def test_the_database_refuses_to_rewrite_audit_rows(changed_twice, statement):
    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, [changed_twice.pk])

    assert StatusChange.objects.filter(conversion=changed_twice).count() == 3


def test_the_orm_cannot_rewrite_audit_rows_either(changed_twice):
    rows = StatusChange.objects.filter(conversion=changed_twice)

    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        rows.update(reason="edited")
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        rows.delete()


def test_the_database_refuses_to_delete_a_conversion(changed_twice):
    with (
        pytest.raises(IntegrityError, match="never deleted"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM conversions_conversion WHERE id = %s", [changed_twice.pk])
    # The ORM deletes the audit rows first (CASCADE): refused there.
    with pytest.raises(IntegrityError), transaction.atomic():
        Conversion.objects.filter(pk=changed_twice.pk).delete()

    assert Conversion.objects.filter(pk=changed_twice.pk).exists()
    assert_audit_intact()


@pytest.mark.audit_broken
def test_a_conversion_deleted_with_the_triggers_off_but_not_its_rows_is_found(changed_twice):
    with audit_triggers_off(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM conversions_conversion WHERE id = %s", [changed_twice.pk])

    ok, out = verify()

    assert not ok
    assert f"conversion {changed_twice.pk}: has audit rows but no longer exists" in out


def test_the_backfill_hashes_rows_written_before_the_chain(changed_twice, conversion_factory):
    other = conversion_factory(status=Status.SUCCESS)
    with audit_triggers_off(), connection.cursor() as cursor:
        # Rows as they were before the chain (0015), so before amounts were audited (0027).
        cursor.execute(
            "UPDATE conversions_statuschange SET chain_hash = '', payout = NULL, revenue = NULL"
        )
        cursor.execute("UPDATE conversions_conversion SET audit_chain_hash = ''")
    assert not verify()[0]

    backfill = import_module("conversions.migrations.0016_audit_hash_chain_backfill")
    with connection.cursor() as cursor:
        cursor.execute(backfill.BACKFILL_SQL)

    assert hashes(changed_twice.pk)[0][2] != b""
    assert hashes(other.pk)[1] != b""
    assert_audit_intact()
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        StatusChange.objects.filter(conversion=other).update(reason="edited")
