import pytest

from conversions.change_sets import services as change_sets
from conversions.imports import services


@pytest.fixture
def import_media_root(settings, tmp_path):
    """Stored uploads and reports go to a temporary folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def import_validated(import_media_root, admin_user):
    """Upload a file as the admin and validate it, as the worker would."""

    def run(path, *, user=admin_user):
        job = services.import_job_create(
            user=user, upload=path, original_name=path.name, queue_validation=False
        )
        return change_sets.import_job_validate(import_job=job)

    return run


@pytest.fixture
def import_applied(import_validated, admin_user):
    """Upload, validate, confirm and apply a file; returns the job."""

    def run(path, *, send_callbacks=True, user=admin_user):
        job = import_validated(path, user=user)
        assert job.state == "validated", job.error_message
        change_sets.import_job_confirm(
            import_job=job, user=user, send_callbacks=send_callbacks, queue_apply=False
        )
        return change_sets.import_job_apply(import_job=job)

    return run
