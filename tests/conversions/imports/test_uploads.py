"""Over-size uploads are refused before their body is read or stored."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory

from conversions.imports.uploads import import_upload_handlers, upload_size_refusal


class UnreadableBody(io.RawIOBase):
    """A request body that fails the test if anything reads it."""

    def read(self, *args):
        raise AssertionError("the body was read")

    readinto = read


def test_a_declared_length_over_the_limit_is_refused_without_reading_the_body(settings):
    settings.IMPORT_MAX_UPLOAD_BYTES = 100 * 1024 * 1024
    request = RequestFactory().post("/import/", data=b"", content_type="multipart/form-data")
    request.META["CONTENT_LENGTH"] = str(150 * 1024 * 1024)
    request.META["wsgi.input"] = UnreadableBody()

    refusal = upload_size_refusal(request).replace("\xa0", " ")

    assert refusal.startswith("The file is 150.0 MB; files of at most 100.0 MB are accepted.")


def test_a_streamed_file_over_the_limit_is_stopped_and_not_stored(settings):
    settings.IMPORT_MAX_UPLOAD_BYTES = 1000
    upload = SimpleUploadedFile("big.csv", b"gk_click_id,Status\n" + b"x,Success\n" * 500)
    request = RequestFactory().post("/import/", data={"import_file": upload, "note": "hi"})
    assert upload_size_refusal(request) is None  # the declared length is within the envelope
    request.upload_handlers = import_upload_handlers(request)

    files = request.FILES

    assert "import_file" not in files
    assert "files of at most 1000 bytes are accepted" in upload_size_refusal(request).replace(
        "\xa0", " "
    )


def test_a_file_within_the_limit_goes_to_a_temporary_file_on_disk(settings):
    settings.IMPORT_MAX_UPLOAD_BYTES = 10_000
    content = b"gk_click_id,Status\n" + b"x,Success\n" * 50
    request = RequestFactory().post(
        "/import/", data={"import_file": SimpleUploadedFile("ok.csv", content)}
    )
    request.upload_handlers = import_upload_handlers(request)

    stored = request.FILES["import_file"]

    assert upload_size_refusal(request) is None
    with open(stored.temporary_file_path(), "rb") as on_disk:
        assert on_disk.read() == content
    request.close()


@pytest.mark.django_db
def test_an_upload_is_stored_and_validation_is_queued_after_commit(
    import_media_root, admin_user, conversion_factory, django_capture_on_commit_callbacks
):
    from conversions.imports import services
    from conversions.models import ImportJob

    conversion = conversion_factory()
    content = f"EventId,Status\n{conversion.pk},Success\n".encode()
    request = RequestFactory().post(
        "/import/", data={"import_file": SimpleUploadedFile("q3.csv", content)}
    )
    request.upload_handlers = import_upload_handlers(request)
    upload = request.FILES["import_file"]

    with django_capture_on_commit_callbacks() as callbacks:
        job = services.import_job_create(user=admin_user, upload=upload, original_name=upload.name)

    assert (job.state, job.file_format, job.size_bytes, job.original_name) == (
        ImportJob.State.UPLOADED,
        "csv",
        len(content),
        "q3.csv",
    )
    with job.file.open("rb") as stored:
        assert stored.read() == content
    assert len(callbacks) == 1  # the validation task, sent once the upload is committed
    request.close()  # as Django's handler does after the response: closes the moved upload


def test_import_tasks_go_to_their_own_queue_when_one_is_set(
    settings, import_media_root, admin_user, conversion_factory, django_capture_on_commit_callbacks
):
    import json
    import uuid

    import redis

    from conversions.imports import services

    settings.IMPORT_TASK_QUEUE = f"{settings.CELERY_TASK_DEFAULT_QUEUE}-imports-{uuid.uuid4().hex}"
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    conversion = conversion_factory()
    content = f"EventId,Status\n{conversion.pk},Success\n".encode()
    upload = SimpleUploadedFile("q3.csv", content)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            job = services.import_job_create(user=admin_user, upload=upload, original_name="q3.csv")

        (message,) = broker.lrange(settings.IMPORT_TASK_QUEUE, 0, -1)
        headers = json.loads(message)["headers"]
        assert headers["task"] == "conversions.imports.tasks.import_job_validate_task"
        assert headers["argsrepr"] == f"({job.pk},)"
    finally:
        broker.delete(settings.IMPORT_TASK_QUEUE)
