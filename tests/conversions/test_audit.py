"""``manage.py audit_verify``: an intact trail passes; each kind of break is named."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from callbacks.models import CallbackDelivery
from conversions.models import Conversion, Source, Status, StatusChange
from conversions.services import conversion_status_set
from tests.audit import assert_audit_intact, audit_triggers_off

pytestmark = pytest.mark.django_db


def verify() -> tuple[bool, str]:
    out = StringIO()
    try:
        call_command("audit_verify", stdout=out)
    except CommandError:
        return False, out.getvalue()
    return True, out.getvalue()


@pytest.fixture
def changed_twice(conversion_factory, partner_factory):
    """A conversion of a partner with callbacks, Pending → Success → Rejected by an admin."""
    partner = partner_factory(callback_url="http://127.0.0.1:9/cb", rejected_callbacks_enabled=True)
    conversion = conversion_factory(click__partner=partner, status=Status.PENDING)
    for status in (Status.SUCCESS, Status.REJECTED):
        conversion_status_set(conversion_ids=[conversion.pk], status=status, source=Source.ADMIN)
    return conversion


def test_an_intact_trail_passes(changed_twice):
    ok, out = verify()

    assert ok
    assert "Audit trail intact" in out
    assert CallbackDelivery.objects.filter(conversion_id=changed_twice.pk).count() == 2
    assert_audit_intact()


@pytest.mark.audit_broken
def test_a_missing_audit_row_breaks_the_chain(changed_twice):
    with audit_triggers_off():
        StatusChange.objects.filter(conversion_id=changed_twice.pk, sequence_number=2).delete()

    ok, out = verify()

    assert not ok
    assert f"conversion {changed_twice.pk}: audit rows do not form a chain" in out


@pytest.mark.audit_broken
def test_a_status_changed_behind_the_service_is_found(changed_twice):
    Conversion.objects.filter(pk=changed_twice.pk).update(status=Status.SUCCESS)

    ok, out = verify()

    assert not ok
    assert f"conversion {changed_twice.pk}: is success but its last audit row says rejected" in out


@pytest.mark.audit_broken
def test_an_owed_callback_without_its_outbox_row_is_found(changed_twice):
    CallbackDelivery.objects.filter(conversion_id=changed_twice.pk, sequence_number=3).delete()

    ok, out = verify()

    assert not ok
    assert (
        f"conversion {changed_twice.pk}: change 3 (rejected) owed the partner a callback, "
        "but it has no outbox row" in out
    )


@pytest.mark.audit_broken
def test_a_conversion_without_audit_rows_is_found(changed_twice):
    with audit_triggers_off():
        StatusChange.objects.filter(conversion_id=changed_twice.pk).delete()
    CallbackDelivery.objects.filter(conversion_id=changed_twice.pk).delete()

    ok, out = verify()

    assert not ok
    assert f"conversion {changed_twice.pk}: has no audit rows" in out


def test_a_change_whose_callbacks_are_off_owes_none(conversion_factory, partner_factory):
    partner = partner_factory(callback_url="http://127.0.0.1:9/cb", pending_callbacks_enabled=False)
    conversion = conversion_factory(click__partner=partner, status=Status.SUCCESS)

    conversion_status_set(
        conversion_ids=[conversion.pk], status=Status.PENDING, source=Source.ADMIN
    )

    change = StatusChange.objects.get(conversion=conversion, sequence_number=2)
    assert change.callback_owed is False
    assert not CallbackDelivery.objects.filter(conversion=conversion).exists()
    assert_audit_intact()
