"""The import benchmark's worker process (``bench/import_statuses.py``): one job validated,
confirmed and applied, or reverted, by the Celery task functions as a worker runs them, each
stage timed, with the peak RSS of the process that reads the file."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

# The benchmark's script, whose hidden ``--worker JOB_ID`` prints ``worker_run``'s outcome.
_SCRIPT = Path(__file__).with_name("import_statuses.py")


def peak_rss_mb() -> float:
    """The larger peak RSS of this process and of its children (the XLSX or XLS reader)."""
    return (
        max(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        )
        / 1024
    )


def wal_position() -> tuple[str, int]:
    """The server's WAL position and how many checkpoints it has made (both server-wide: the
    benchmark runs alone)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_current_wal_lsn()::text,"
            " checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter"
        )
        return cursor.fetchone()


def wal_since(start: tuple[str, int]) -> tuple[float, int]:
    """The WAL written (MB) and the checkpoints made since ``start`` (``wal_position``)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn),"
            " checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter",
            [start[0]],
        )
        written, checkpoints = cursor.fetchone()
    return float(written) / 1024**2, checkpoints - start[1]


def worker_run(import_job_id: int) -> dict:
    """Validate, confirm and apply one job as a Celery worker would; times and peak RSS, and
    the time the preview's money takes of the validation (computed again on the staged set)."""
    import django

    django.setup()
    from conversions.change_sets import change_list, tasks
    from conversions.change_sets import services as change_sets
    from conversions.change_sets.tables import StagingTables
    from conversions.models import ImportJob

    started = time.perf_counter()
    tasks.import_job_validate_task(import_job_id)
    validate_s = time.perf_counter() - started
    rss_after_validate = peak_rss_mb()
    job = ImportJob.objects.get(pk=import_job_id)
    if job.state != ImportJob.State.VALIDATED:
        return {"error": f"{job.state}: {job.error_message}"}
    started = time.perf_counter()
    change_list.staged_money(StagingTables(import_job_id))
    money_s = time.perf_counter() - started
    change_sets.import_job_confirm(
        import_job=job, user=None, send_callbacks=True, queue_apply=False
    )
    wal = wal_position()
    started = time.perf_counter()
    tasks.import_job_apply_task(import_job_id)
    apply_s = time.perf_counter() - started
    apply_wal_mb, apply_checkpoints = wal_since(wal)
    job.refresh_from_db()
    return {
        "validate_s": validate_s,
        "money_s": money_s,
        "apply_s": apply_s,
        "apply_wal_mb": apply_wal_mb,
        "apply_checkpoints": apply_checkpoints,
        "peak_rss_mb": peak_rss_mb(),
        "validate_peak_rss_mb": rss_after_validate,
        "state": job.state,
        "error": job.error_message,
        "summary": job.summary,
    }


def worker_subprocess_run(import_job_id: int, env: dict[str, str], *, what: str) -> dict:
    """``worker_run`` of one job in a process of its own (as a Celery worker runs it); its
    outcome. Stops the benchmark when the worker failed or the job did not apply."""
    worker = subprocess.run(
        [sys.executable, str(_SCRIPT), "--worker", str(import_job_id)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if worker.returncode != 0:
        sys.exit(f"{what} worker failed:\n{worker.stderr[-3000:]}")
    outcome = json.loads(worker.stdout.strip().splitlines()[-1])
    if outcome.get("state") != "applied":
        sys.exit(f"{what} did not apply: {outcome}")
    return outcome


def revert_run(job: object, env: dict[str, str]) -> str:
    """Revert the applied job in a worker (its check and apply timed), then ``audit_verify``
    over the whole table; the last line's revert figures."""
    from django.db import connections

    from conversions.audit import audit_verify
    from conversions.change_sets import services as change_sets

    revert = change_sets.import_job_revert(import_job=job, user=None, queue_validation=False)
    connections.close_all()
    outcome = worker_subprocess_run(revert.pk, env, what="revert")
    summary = outcome["summary"]
    print(
        f"reverted: {summary['applied_total']:,} conversions back, "
        f"{summary['left_alone']:,} left alone, callbacks {summary['callbacks']:,}",
        flush=True,
    )
    started = time.perf_counter()
    problems = audit_verify()
    audit_s = time.perf_counter() - started
    for problem in problems[:5]:
        print(f"audit: conversion {problem.conversion_id}: {problem.message}", flush=True)
    return (
        f"revert_rows={summary['applied_total']} revert_validate_s={outcome['validate_s']:.1f} "
        f"revert_apply_s={outcome['apply_s']:.1f} audit_s={audit_s:.1f} "
        f"audit_ok={int(not problems)}"
    )
