"""A 100 MB status file through the Management API against the admin import, in one sitting
(issue 22: "a 100 MB file through the API within 10% of the admin import's figures").

    .venv/bin/python bench/api_upload.py --size-mb 100

What it does, all on this machine:

1. creates its own database (``gokart_bench_api_upload``, dropped at the end unless
   ``--keep-db``) and fills it as ``bench/import_statuses.py`` does (at least ``--conversions``,
   2,000,000), then writes that benchmark's CSV of ``--size-mb`` from it;
2. **the admin import**: the file as the admin's upload stores it, checked and applied by the
   Celery task functions in a process of their own, exactly as ``bench/import_statuses.py``
   times them (its ``validate_s`` and ``apply_s``);
3. drops the database and fills it again (the fill is deterministic, so the file names the
   same conversions): the second run meets neither the first one's dead rows nor its scattered
   heap (a revert, tried first, left the API's apply 21% slower on rows moved twice);
4. **the API**: the same file ``POST``ed to ``/api/v1/change-sets/upload`` (multipart,
   streamed from disk) on a real gunicorn (the deploy's settings), checked and applied by a
   real Celery worker on its own import queue; ``check_s`` runs from the first byte sent to
   the state ``validated``, ``apply_s`` from the confirmation to ``applied``, polled every
   half second (as a client would: every 50 ms, the polls took a few per cent of the two
   cores from the worker);
5. checks that each job's audit rows number what its summary says was applied, and that both
   applied the same count.

Connection: ``BENCH_POSTGRES_URL`` (default ``postgres://postgres@127.0.0.1:5432``).
Last line: ``rows=… admin_validate_s=… admin_apply_s=… api_check_s=… api_apply_s=…
check_ratio=… apply_ratio=… applied=…`` (ratios: the API's time over the admin's).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
# The project, in place of bench/ itself: bench/api.py would shadow the api app.
sys.path[0] = str(BASE_DIR)

from bench.api import api_key_token, server_start, server_stop  # noqa: E402 -- after the path
from bench.api_change_set import api_call, state_reached, worker_start  # noqa: E402
from bench.database import bench_cleanup, bench_environment, database_recreate  # noqa: E402
from bench.import_statuses_files import status_file_write  # noqa: E402
from bench.import_statuses_fill import file_rows, fill  # noqa: E402
from bench.import_statuses_worker import worker_subprocess_run  # noqa: E402
from bench.tracking_load import broker_queue_delete  # noqa: E402

CHUNK_BYTES = 1024 * 1024
POLL = 0.5  # seconds between a client's polls of the change set


def applied_audit_rows(import_job_id: int) -> int:
    from conversions.models import StatusChange

    return StatusChange.objects.filter(import_job_id=import_job_id).count()


def admin_import_timed(path: Path, env: dict[str, str]) -> dict:
    """The admin import's path: the job as its upload creates it, then the worker's check and
    apply (``bench/import_statuses_worker.py``); the worker's outcome."""
    from django.db import connections

    from conversions.imports import services

    job = services.import_job_create(
        user=None, upload=path, original_name=path.name, queue_validation=False
    )
    connections.close_all()
    outcome = worker_subprocess_run(job.pk, env, what="admin import")
    outcome["job"] = job
    return outcome


def database_filled(postgres_url: str, args: argparse.Namespace) -> None:
    """The benchmark's database, new and filled as ``bench/import_statuses.py`` fills it."""
    from django.core.management import call_command
    from django.db import connections

    connections.close_all()
    database_recreate(postgres_url, args.database)
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    fill(max(int(args.size_mb * 1024 * 1024 / 50 / 1.9) + 1000, args.conversions // 2))
    print(f"filled in {time.perf_counter() - started:.1f} s", flush=True)


def file_posted(connection: http.client.HTTPConnection, path: Path, token: str) -> dict:
    """``POST /api/v1/change-sets/upload`` with the file as multipart, streamed from disk."""
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{path.name}"\r\nContent-Type: text/csv\r\n\r\n'
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    size = path.stat().st_size
    connection.putrequest("POST", "/api/v1/change-sets/upload")
    connection.putheader("Authorization", f"ApiToken {token}")
    connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    connection.putheader("Content-Length", str(len(head) + size + len(tail)))
    connection.endheaders()
    connection.send(head)
    with path.open("rb") as file:
        while chunk := file.read(CHUNK_BYTES):
            connection.send(chunk)
    connection.send(tail)
    response = connection.getresponse()
    created = json.loads(response.read() or b"{}")
    if response.status != 202:
        raise SystemExit(f"POST /api/v1/change-sets/upload: HTTP {response.status} {created}")
    return created


def api_upload_timed(path: Path, env: dict[str, str], tmp: Path) -> dict:
    """The API's path: the file posted to a real gunicorn, checked and applied by a real Celery
    worker; seconds to ``validated`` and to ``applied``, and the job's id."""
    from django.db import connections

    token = api_key_token()
    connections.close_all()
    server, port = server_start(env=env, workers=2, threads=4, log=tmp / "gunicorn.log")
    worker = worker_start(env, env["IMPORT_TASK_QUEUE"], tmp / "worker.log")
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        started = time.perf_counter()
        created = file_posted(connection, path, token)
        job_path = f"/api/v1/change-sets/{created['id']}"
        checked = state_reached(connection, job_path, token, {"validated"}, poll_seconds=POLL)
        check_s = time.perf_counter() - started
        started = time.perf_counter()
        status, confirmed = api_call(connection, "POST", f"{job_path}/confirm", token, {})
        if status != 202:
            raise SystemExit(f"POST {job_path}/confirm: HTTP {status} {confirmed}")
        applied = state_reached(connection, job_path, token, {"applied"}, poll_seconds=POLL)
        apply_s = time.perf_counter() - started
        connection.close()
    finally:
        server_stop(worker)
        server_stop(server)
    print(f"API preview: {json.dumps(checked.get('progress'))}", flush=True)
    return {
        "id": created["id"],
        "check_s": check_s,
        "apply_s": apply_s,
        "outcome": applied.get("outcome") or {},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=100)
    parser.add_argument("--conversions", type=int, default=2_000_000)
    parser.add_argument("--database", default="gokart_bench_api_upload")
    parser.add_argument("--keep-db", action="store_true", help="leave the database for a look")
    args = parser.parse_args()

    postgres_url = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
    media = tempfile.mkdtemp(prefix="gokart-bench-api-upload-")
    queue = f"gokart-bench-api-upload-{os.getpid()}"
    env = {
        **bench_environment(postgres_url, args.database, media, "bench-api-upload"),
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "IMPORT_TASK_QUEUE": f"{queue}-imports",
        "ALLOWED_HOSTS": "127.0.0.1",
        "API_RATE_LIMIT_PER_MINUTE": str(10**9),
        # Four-eyes approval is not what is measured: both jobs are confirmed by who made them.
        "IMPORT_APPROVAL_MIN_CONVERSIONS": "0",
        "IMPORT_APPROVAL_MIN_PAYOUT": "",
    }
    os.environ.update(env)
    try:
        import django

        django.setup()
        database_filled(postgres_url, args)
        path = Path(media) / "statuses.csv"
        rows = status_file_write(
            path,
            file_rows(),
            file_format="csv",
            max_rows=10**9,
            max_bytes=int(args.size_mb * 1024 * 1024),
            xlsx_shared=True,
        )
        print(f"wrote {rows:,} rows, {path.stat().st_size / 1024**2:.1f} MB", flush=True)
        upload = Path(media) / "upload" / path.name  # the admin's job takes its copy
        upload.parent.mkdir()
        shutil.copy(path, upload)
        admin = admin_import_timed(upload, env)
        admin_applied = admin["summary"]["applied_total"]
        if applied_audit_rows(admin["job"].pk) != admin_applied:
            sys.exit("the admin import's audit rows do not match its summary")
        print(
            f"admin import: checked in {admin['validate_s']:.1f} s, applied "
            f"{admin_applied:,} in {admin['apply_s']:.1f} s",
            flush=True,
        )
        database_filled(postgres_url, args)
        with tempfile.TemporaryDirectory(prefix="gokart-bench-api-upload-") as tmp:
            api = api_upload_timed(path, env, Path(tmp))
        api_applied = int(api["outcome"].get("applied_total") or 0)
        if applied_audit_rows(api["id"]) != api_applied or api_applied != admin_applied:
            sys.exit(
                f"the API applied {api_applied:,} (audit rows "
                f"{applied_audit_rows(api['id']):,}), the admin import {admin_applied:,}"
            )
        print(
            f"rows={rows} admin_validate_s={admin['validate_s']:.1f} "
            f"admin_apply_s={admin['apply_s']:.1f} api_check_s={api['check_s']:.1f} "
            f"api_apply_s={api['apply_s']:.1f} "
            f"check_ratio={api['check_s'] / admin['validate_s']:.2f} "
            f"apply_ratio={api['apply_s'] / admin['apply_s']:.2f} applied={api_applied}"
        )
    finally:
        broker_queue_delete(env["CELERY_BROKER_URL"], queue)
        bench_cleanup(postgres_url, args.database, media, keep_db=args.keep_db)


if __name__ == "__main__":
    main()
