"""A real Celery worker killed mid-apply: nothing is half-applied, and the job ends failed."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from conversions.change_sets import services as change_sets
from conversions.change_sets import tasks
from conversions.imports import services
from conversions.models import Conversion, ImportJob, Status, StatusChange
from tests.conversions.imports.status_files import HEADER, status_file

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL advisory locks"),
    pytest.mark.usefixtures("import_media_root"),
]
BASE_DIR = Path(__file__).resolve().parents[3]


def wait_for(condition, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def slow_last_update(conversion_factory):
    """Three pending conversions; updating the last one takes 3 seconds (a PostgreSQL trigger)."""
    conversions = [conversion_factory(status=Status.PENDING) for _ in range(3)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""CREATE FUNCTION import_test_slow() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN PERFORM pg_sleep(3); RETURN NEW; END $$;
            CREATE TRIGGER import_test_slow BEFORE UPDATE ON conversions_conversion
            FOR EACH ROW WHEN (OLD.id = {conversions[-1].pk})
            EXECUTE FUNCTION import_test_slow();"""
        )
    yield conversions
    with connection.cursor() as cursor:
        cursor.execute(
            "DROP TRIGGER IF EXISTS import_test_slow ON conversions_conversion;"
            " DROP FUNCTION IF EXISTS import_test_slow();"
        )


@pytest.fixture
def celery_worker_process(tmp_path):
    """A real worker (solo pool) on a private queue, against the test database."""
    queue = f"gokart-imp-test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{connection.settings_dict['USER']}@{connection.settings_dict['HOST']}:"
            f"{connection.settings_dict['PORT']}/{connection.settings_dict['NAME']}"
        ),
        "CELERY_BROKER_URL": django_settings.CELERY_BROKER_URL,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "MEDIA_ROOT": str(django_settings.MEDIA_ROOT),
        "IMPORT_APPLY_CHUNK_ROWS": "1",
        "DEBUG": "1",
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "gokart",
            "worker",
            "--pool=solo",
            "-Q",
            queue,
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "-l",
            "WARNING",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=open(tmp_path / "worker.log", "wb"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
    )
    yield worker, queue
    if worker.poll() is None:
        worker.kill()
    worker.wait(10)


def test_a_worker_killed_mid_apply_leaves_nothing_applied_and_the_job_failed(
    tmp_path, slow_last_update, celery_worker_process, admin_user
):
    conversions = slow_last_update
    worker, queue = celery_worker_process
    path = status_file(tmp_path, [HEADER] + [["", c.pk, "Success", ""] for c in conversions])
    job = services.import_job_create(
        user=admin_user, upload=path, original_name=path.name, queue_validation=False
    )
    change_sets.import_job_validate(import_job=job)
    change_sets.import_job_confirm(
        import_job=job, user=admin_user, send_callbacks=True, queue_apply=False
    )

    tasks.import_job_apply_task.apply_async(args=[job.pk], queue=queue)
    # One or two of the three one-conversion chunks are written (in the open transaction) when the
    # worker is killed on the third.
    assert wait_for(
        lambda: ImportJob.objects.filter(
            pk=job.pk, state=ImportJob.State.APPLYING, progress_done__gte=1
        ).exists()
    )
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)

    assert ImportJob.objects.get(pk=job.pk).state == ImportJob.State.APPLYING
    # Once PostgreSQL has rolled the dead worker's transaction back, the periodic check
    # finds the job.
    assert wait_for(lambda: change_sets.import_jobs_fail_stale() == 1)
    job.refresh_from_db()
    assert job.state == ImportJob.State.FAILED
    assert "Nothing was changed" in job.error_message
    assert set(Conversion.objects.values_list("status", flat=True)) == {Status.PENDING}
    assert not StatusChange.objects.filter(import_job=job).exists()

    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER import_test_slow ON conversions_conversion")
    change_sets.import_job_retry(import_job=job)
    job = change_sets.import_job_apply(import_job=job)
    assert job.state == ImportJob.State.APPLIED
    assert set(Conversion.objects.values_list("status", flat=True)) == {Status.SUCCESS}
