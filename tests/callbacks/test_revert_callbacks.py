"""An import, then its revert: partners get the reversal after the change it reverses, with the
next sequence number, from a real worker to a real receiver."""

import pytest
from standardwebhooks.webhooks import Webhook

from conversions.change_sets import services as change_sets
from conversions.imports import services
from conversions.models import Conversion, Status
from tests.audit import assert_audit_intact
from tests.conversions.imports.status_files import HEADER, status_file

pytestmark = pytest.mark.django_db(transaction=True)


def applied(job, user):
    change_sets.import_job_validate(import_job=job)
    change_sets.import_job_confirm(
        import_job=job, user=user, send_callbacks=True, queue_apply=False
    )
    return change_sets.import_job_apply(import_job=job)


def test_import_then_revert_sends_each_partner_the_reversal_in_order(
    celery_worker, receiver, partner_factory, conversion_factory, admin_user, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    partner = partner_factory(callback_url=receiver.url, rejected_callbacks_enabled=True)
    rewarded = conversion_factory.create_batch(3, click__partner=partner, status=Status.SUCCESS)
    path = status_file(tmp_path, [HEADER, *[["", c.pk, "Rejected", "Fraud"] for c in rewarded]])

    job = services.import_job_create(
        user=admin_user, upload=path, original_name=path.name, queue_validation=False
    )
    job = applied(job, admin_user)
    revert = change_sets.import_job_revert(import_job=job, user=admin_user, queue_validation=False)
    revert = applied(revert, admin_user)

    callbacks = receiver.wait_for(6)
    for conversion in rewarded:
        mine = [
            c.json["conversion"]
            for c in callbacks
            if c.json["conversion"]["conversionId"] == conversion.pk
        ]
        assert [(c["status"], c["statusChangeNumber"]) for c in mine] == [
            ("Rejected", 2),
            ("Success", 3),
        ]
        assert mine[1]["rejectionReason"] is None
        assert Conversion.objects.get(pk=conversion.pk).status == Status.SUCCESS
    for callback in callbacks:
        Webhook(partner.signing_secret).verify(callback.body, callback.headers)
    assert revert.summary["callbacks"] == 3
    assert_audit_intact()
