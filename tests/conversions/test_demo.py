"""``manage.py demo``: a believable network, recorded through the services."""

import pytest
from django.core.management import call_command
from django.db.models import F

from callbacks.models import CallbackDelivery
from conversions.models import Conversion, ImportJob, Source
from tests.conversions.audit_trail import audit_trail_assert_unbroken
from tests.conversions.test_tally import counted, tallied

pytestmark = pytest.mark.django_db


def test_the_demo_looks_like_a_network_and_keeps_its_records_straight(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"

    call_command("demo", conversions=400, stdout=open("/dev/null", "w"))  # noqa: SIM115

    assert Conversion.objects.count() == 400
    # Every click before its conversions.
    assert not Conversion.objects.filter(created_at__lt=F("click__created_at")).exists()
    sources = set(Conversion.objects.values_list("status_source", flat=True))
    assert {Source.POSTBACK, Source.ADMIN, Source.PENDING_TIME, Source.BULK_IMPORT} <= sources
    assert CallbackDelivery.objects.filter(state=CallbackDelivery.State.FAILED).exists()
    job = ImportJob.objects.get()
    assert job.state == "applied" and job.summary["applied_total"] > 0
    assert tallied() == counted()
    audit_trail_assert_unbroken()
