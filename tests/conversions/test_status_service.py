"""The status-change service: audit rows, no-ops and concurrency, on the real database."""

import threading

import pytest
from django.db import connections, transaction

from conversions.models import Conversion, Source, Status
from conversions.services import conversion_status_set, conversions_pending_promote
from tests.conversions.factories import changes_since_recorded

pytestmark = pytest.mark.django_db


def history(conversion):
    return list(
        changes_since_recorded()
        .filter(conversion=conversion)
        .values_list("old_status", "new_status", "source", "sequence_number")
    )


@pytest.mark.parametrize("old", Status.values)
@pytest.mark.parametrize("new", Status.values)
@pytest.mark.parametrize("source", [Source.ADMIN, Source.BULK_IMPORT, Source.PENDING_TIME])
def test_every_transition_writes_exactly_one_correct_audit_row(
    conversion_factory, admin_user, old, new, source
):
    conversion = conversion_factory(status=old)

    result = conversion_status_set(
        conversion_ids=[conversion.pk], status=new, source=source, user=admin_user, reason="why"
    )

    conversion.refresh_from_db()
    assert conversion.status == new
    if old == new:
        assert result.changed == 0
        assert history(conversion) == []
        assert conversion.status_version == 1
    else:
        assert result.transitions == {(old, new): 1}
        assert history(conversion) == [(old, new, source, 2)]
        change = changes_since_recorded().get(conversion=conversion)
        assert change.user == admin_user
        assert change.reason == "why"
        assert conversion.status_source == source
        assert conversion.status_version == 2


def test_many_conversions_change_in_one_call_and_no_ops_are_skipped(conversion_factory):
    pending = conversion_factory.create_batch(3, status=Status.PENDING)
    already = conversion_factory(status=Status.REJECTED)

    result = conversion_status_set(
        conversion_ids=[c.pk for c in [*pending, already]] + [10**12],
        status=Status.REJECTED,
        source=Source.ADMIN,
    )

    assert result.transitions == {(Status.PENDING, Status.REJECTED): 3}
    assert changes_since_recorded().filter(new_status=Status.REJECTED).count() == 3
    assert history(already) == []


def test_only_from_leaves_conversions_that_moved_on(conversion_factory):
    decided = conversion_factory(status=Status.REJECTED)

    result = conversion_status_set(
        conversion_ids=[decided.pk],
        status=Status.SUCCESS,
        source=Source.PENDING_TIME,
        only_from=Status.PENDING,
    )

    assert result.changed == 0
    decided.refresh_from_db()
    assert decided.status == Status.REJECTED


def test_unknown_status_is_refused(conversion_factory):
    conversion = conversion_factory()
    with pytest.raises(ValueError, match="Unknown status"):
        conversion_status_set(conversion_ids=[conversion.pk], status="paid", source=Source.ADMIN)


def test_pending_time_promotes_due_conversions_only(conversion_factory):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    due = conversion_factory(status=Status.PENDING, pending_until=now - timedelta(minutes=1))
    later = conversion_factory(status=Status.PENDING, pending_until=now + timedelta(hours=1))
    manual = conversion_factory(status=Status.PENDING, pending_until=None)

    assert conversions_pending_promote(now=now) == 1

    for conversion in (due, later, manual):
        conversion.refresh_from_db()
    assert (due.status, later.status, manual.status) == (
        Status.SUCCESS,
        Status.PENDING,
        Status.PENDING,
    )
    assert history(due) == [(Status.PENDING, Status.SUCCESS, Source.PENDING_TIME, 2)]
    assert due.pending_until is None


def test_an_admin_decision_clears_the_pending_time(conversion_factory):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    conversion = conversion_factory(status=Status.PENDING, pending_until=now - timedelta(seconds=1))
    conversion_status_set(
        conversion_ids=[conversion.pk], status=Status.REJECTED, source=Source.ADMIN
    )
    conversion_status_set(
        conversion_ids=[conversion.pk], status=Status.PENDING, source=Source.ADMIN
    )

    assert conversions_pending_promote(now=now) == 0
    conversion.refresh_from_db()
    assert conversion.status == Status.PENDING


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_changes_are_both_audited_with_the_right_old_status(conversion_factory):
    """Given a transaction holding a change uncommitted, a second change waits for it, then
    records the first one's status as its old status: no change is lost or mis-audited."""
    conversion = conversion_factory(status=Status.PENDING)
    first_has_changed = threading.Event()
    release_first = threading.Event()
    errors = []

    def first_admin():
        try:
            with transaction.atomic():
                conversion_status_set(
                    conversion_ids=[conversion.pk], status=Status.SUCCESS, source=Source.ADMIN
                )
                first_has_changed.set()
                release_first.wait(10)
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            connections.close_all()

    def second_admin():
        try:
            first_has_changed.wait(10)
            conversion_status_set(
                conversion_ids=[conversion.pk], status=Status.REJECTED, source=Source.ADMIN
            )
        except Exception as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first_admin), threading.Thread(target=second_admin)]
    for thread in threads:
        thread.start()
    assert first_has_changed.wait(10)
    threads[1].join(0.5)
    assert threads[1].is_alive(), "the second change must wait for the first's row lock"
    release_first.set()
    for thread in threads:
        thread.join(10)

    assert errors == []
    conversion.refresh_from_db()
    assert conversion.status == Status.REJECTED
    assert conversion.status_version == 3
    assert history(conversion) == [
        (Status.PENDING, Status.SUCCESS, Source.ADMIN, 2),
        (Status.SUCCESS, Status.REJECTED, Source.ADMIN, 3),
    ]


@pytest.mark.django_db(transaction=True)
def test_a_concurrent_change_to_the_same_status_is_a_single_audit_row(conversion_factory):
    conversion = conversion_factory(status=Status.PENDING)
    first_has_changed = threading.Event()
    release_first = threading.Event()
    results = {}

    def change(name, hold):
        try:
            with transaction.atomic():
                results[name] = conversion_status_set(
                    conversion_ids=[conversion.pk], status=Status.SUCCESS, source=Source.ADMIN
                ).changed
                if hold:
                    first_has_changed.set()
                    release_first.wait(10)
        finally:
            connections.close_all()

    first = threading.Thread(target=change, args=("first", True))
    first.start()
    assert first_has_changed.wait(10)
    second = threading.Thread(target=change, args=("second", False))
    second.start()
    second.join(0.5)
    release_first.set()
    first.join(10)
    second.join(10)

    assert results == {"first": 1, "second": 0}
    assert Conversion.objects.get(pk=conversion.pk).status_version == 2
    assert len(history(conversion)) == 1
