"""Bulk status import: the real validate and apply path on a big file, against PostgreSQL.

    .venv/bin/python bench/import_statuses.py --format csv --size-mb 100
    .venv/bin/python bench/import_statuses.py --format xlsx --rows 1048575
    .venv/bin/python bench/import_statuses.py --format xls
    .venv/bin/python bench/import_statuses.py --create --size-mb 100
    .venv/bin/python bench/import_statuses.py --amounts --size-mb 100

What it does, all on this machine:

1. creates its own PostgreSQL database (``gokart_bench_import``, dropped at the end unless
   ``--keep-db``), migrates it, and fills it set-based: 4 offers with 3 events each (multi-event),
   5 partners (3 with a callback URL, so changes owe outbox rows), two conversions per click,
   at least ``--conversions`` (2,000,000) whatever the file's size;
2. writes the status file from the database: per click, mostly EventId rows (with their
   gk_click_id) that change a status (about half of the rows) or ask for the status the
   conversion already has, some click-only rows (each fanning out to the click's two
   conversions), and a few conflicting, invalid and not-found rows. CSV by the csv module, XLSX
   by a minimal streaming writer (shared strings as Excel writes them, ``--xlsx-strings
   inline`` as openpyxl does), XLS by xlwt (at most 65,535 rows);
3. runs the real pipeline in a separate worker process (the Celery task functions, as a worker
   runs them): validation, then confirmation and apply; times each stage and takes the peak RSS
   of that process, the one that reads the file;
4. checks the outcome (audit rows and outbox rows of the job) and imports a 20,000-row slice of
   the same changes through a stock django-import-export ``ModelResource`` (default settings)
   for a per-row comparison.

With ``--create``, the file is a conversion upload instead (``conversions.imports.upload_rows``:
ClickId, EventID, UserCompletedAt, Revenue, Reward, TransactionId, Status, Reason), its job of
kind ``upload``, checked and applied by the same task functions in the same worker process: per
click a new conversion of the offer's event it has none of (the third), a few rows of each
refusal (an unknown click or event code, an event the click has a conversion of, a transaction
id used already, the same row twice, a bad amount, a completion before the click). The fill
makes a click per row at least, so ``--conversions`` grows to two per row (100 MB: some 1.25M
rows of about 84 bytes, about 2.6M conversions). The check: the preview's refusals are the ones
written, every new conversion (status source ``manual_upload``) counted in the summary's
``applied_total``, each with exactly one audit row of the job, and the outbox rows; no stock
comparison. ``--revert`` reverts it too (its conversions rejected).

With ``--amounts``, the status file has Payout and Revenue columns too
(``bench/import_statuses_fill.amounts_file_rows``: most changes set a new payout, with or
without a status; some rows fan a new revenue out to a click's conversions) and no stock
comparison; the last line adds ``amounts=1`` and ``amounts_changed=…`` (conversions whose
amounts changed). With ``--revert``, ``audit_verify`` then also proves every conversion's
amounts.

Its parts: ``bench/import_statuses_fill.py`` (the database and the files' rows),
``bench/import_statuses_files.py`` (the CSV, XLSX and XLS writers) and
``bench/import_statuses_worker.py`` (the worker process, and the revert).

Connection settings: ``BENCH_POSTGRES_URL`` (default ``postgres://postgres@127.0.0.1:5432``).
Last line: ``format=… rows=… validate_s=… apply_s=… peak_rss_mb=… rows_per_s=…
stock_rows_per_s=… ratio=… money_s=…``; with ``--create``: ``format=… create=1 rows=…
validate_s=… apply_s=… peak_rss_mb=… rows_per_s=… applied=… refused=… money_s=…``; with
``--revert``, then ``revert_rows=… revert_validate_s=… revert_apply_s=… audit_s=…
audit_ok=…``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conversions.models import ImportJob

BASE_DIR = Path(__file__).resolve().parent.parent
# The project, in place of bench/ itself: bench/click.py and bench/api.py would shadow the
# click package (Celery imports it) and the api app.
sys.path[0] = str(BASE_DIR)

from bench.database import (  # noqa: E402 -- after the path is set
    bench_cleanup,
    bench_environment,
    database_recreate,
)
from bench.import_statuses_files import status_file_write  # noqa: E402
from bench.import_statuses_fill import (  # noqa: E402
    AMOUNTS_HEADER,
    HEADER,
    UPLOAD_HEADER,
    amounts_file_rows,
    file_rows,
    fill,
    stock_slice,
    upload_rows,
)
from bench.import_statuses_worker import (  # noqa: E402
    revert_run,
    worker_run,
    worker_subprocess_run,
)

PREVIEW_KEYS = (
    "rows",
    "will_change",
    "unchanged",
    "not_found",
    "invalid",
    "conflicting",
    "fan_out",
    "validate_seconds",
)
APPLIED_KEYS = ("applied", "changed_since_preview", "callbacks", "apply_seconds")


def stock_rows_per_s(rows: list[list], *, fields: tuple[str, ...] | None = None) -> float:
    """Rows per second of a stock django-import-export ModelResource on the same kind of rows.

    Default settings (``Meta.model`` alone, every field of the model) unless ``fields`` limits
    them; the file's columns are renamed to the model's (``id``, ``status``, ``status_reason``).
    """
    import tablib
    from django.db import transaction
    from import_export import resources

    from conversions.models import Conversion

    meta = {"model": Conversion} if fields is None else {"model": Conversion, "fields": fields}
    resource_class = type(
        "StockConversionResource",
        (resources.ModelResource,),
        {"Meta": type("Meta", (), meta), "__module__": __name__},
    )
    dataset = tablib.Dataset(headers=["id", "status", "status_reason"])
    for _, event_id, status, reason in rows:
        dataset.append([event_id, status.lower(), reason])
    started = time.perf_counter()
    with transaction.atomic():
        result = resource_class().import_data(dataset, dry_run=False)
        transaction.set_rollback(True)
    elapsed = time.perf_counter() - started
    if result.has_errors():
        raise RuntimeError("the stock import reported errors")
    return len(rows) / elapsed


def arguments_parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--format", choices=["csv", "xlsx", "xls"], default="csv")
    parser.add_argument("--size-mb", type=float, help="file size (CSV; default 100)")
    parser.add_argument("--rows", type=int, help="data rows (default: 1,048,575 XLSX, 65,535 XLS)")
    parser.add_argument("--xlsx-strings", choices=["shared", "inline"], default="shared")
    parser.add_argument("--stock-rows", type=int, default=20_000)
    parser.add_argument(
        "--conversions",
        type=int,
        default=2_000_000,
        help="conversions in the table at least (default 2,000,000), whatever the file's size",
    )
    parser.add_argument(
        "--create",
        action="store_true",
        help="a conversion upload (new conversions) instead of a status file",
    )
    parser.add_argument(
        "--amounts",
        action="store_true",
        help="a status file with Payout and Revenue columns (no stock comparison)",
    )
    parser.add_argument(
        "--revert", action="store_true", help="then revert the job, and run audit_verify"
    )
    parser.add_argument(
        "--without-index",
        action="append",
        default=[],
        metavar="NAME",
        help="drop this index of the conversions table after the fill (what an index costs "
        "the apply); may be repeated",
    )
    parser.add_argument("--database", default="gokart_bench_import")
    parser.add_argument("--keep-db", action="store_true", help="leave the database for a look")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    return parser.parse_args()


def file_limits(args: argparse.Namespace) -> tuple[int, int, int]:
    """The file's byte and row limits, and the clicks to fill: ``(max_bytes, max_rows,
    clicks)``."""
    if args.format == "csv":
        max_bytes = int((args.size_mb or 100) * 1024 * 1024)
        max_rows = args.rows or 10**9
        # A conversion upload's row is about 84 bytes, a status file's about 50.
        expected_rows = min(max_rows, max_bytes // (80 if args.create else 50))
    else:
        max_bytes = 10**12
        max_rows = args.rows or (1_048_575 if args.format == "xlsx" else 65_535)
        expected_rows = max_rows
    # At least --conversions in the table whatever the file's size: the reference for
    # the stock resource (about 420 rows/s) was measured against a 2M-row table, and a stock
    # import runs faster against a small one. A conversion upload takes one click per row
    # (its free event), a status file about one per 1.9 rows (two conversions each).
    per_click = 1 if args.create else 1.9
    clicks = max(int(expected_rows / per_click) + 1000, -(-args.conversions // 2))
    return max_bytes, max_rows, clicks


def status_file_create(
    args: argparse.Namespace, media: str, *, max_bytes: int, max_rows: int
) -> tuple[ImportJob, int]:
    """Write the status file from the database and create its import job (the file itself is
    removed once the job holds its copy); the job and the file's data rows."""
    from conversions.imports import services

    path = Path(media) / f"statuses.{args.format}"
    started = time.perf_counter()
    rows = status_file_write(
        path,
        amounts_file_rows() if args.amounts else file_rows(),
        file_format=args.format,
        max_rows=max_rows,
        max_bytes=max_bytes,
        xlsx_shared=args.xlsx_strings == "shared",
        header=AMOUNTS_HEADER if args.amounts else HEADER,
    )
    size_mb = path.stat().st_size / 1024**2
    print(
        f"wrote {path.name}: {rows:,} rows, {size_mb:.1f} MB in "
        f"{time.perf_counter() - started:.1f} s",
        flush=True,
    )
    job = services.import_job_create(
        user=None, upload=path, original_name=path.name, queue_validation=False
    )
    path.unlink()
    return job, rows


def upload_file_create(
    args: argparse.Namespace, media: str, *, max_bytes: int, max_rows: int
) -> tuple[ImportJob, int, Counter[str]]:
    """Write the conversion upload from the database and create its job of kind ``upload``
    (the file removed once the job holds its copy); the job, the file's data rows and what
    the check should make of them (``upload_rows``)."""
    from conversions.imports import services
    from conversions.models import ImportJob

    path = Path(media) / f"conversions.{args.format}"
    started = time.perf_counter()
    expected: Counter[str] = Counter()
    generated = upload_rows(expected)
    rows = status_file_write(
        path,
        generated,
        file_format=args.format,
        max_rows=max_rows,
        max_bytes=max_bytes,
        xlsx_shared=args.xlsx_strings == "shared",
        header=UPLOAD_HEADER,
    )
    generated.close()  # its server-side cursor, when the file stopped before the clicks did
    size_mb = path.stat().st_size / 1024**2
    print(
        f"wrote {path.name}: {rows:,} rows, {size_mb:.1f} MB in "
        f"{time.perf_counter() - started:.1f} s; to be accepted {expected['accepted']:,}, "
        f"refused {rows - expected['accepted']:,}",
        flush=True,
    )
    job = services.import_job_create(
        user=None,
        upload=path,
        original_name=path.name,
        queue_validation=False,
        kind=ImportJob.Kind.UPLOAD,
    )
    path.unlink()
    return job, rows, expected


def upload_outcome_check(import_job_id: int, outcome: dict, expected: Counter[str]) -> None:
    """Print the upload's preview and apply summaries, and check them against the rows written,
    the new conversions, their audit rows and outbox rows (stops the benchmark when they
    differ)."""
    from django.db import connection

    summary = outcome["summary"]
    keys = ("rows", "will_change", "not_found", "invalid", "conflicting", "validate_seconds")
    print("preview: " + json.dumps({k: summary[k] for k in keys}), flush=True)
    print("applied: " + json.dumps({k: summary[k] for k in APPLIED_KEYS}), flush=True)
    with connection.cursor() as cursor:
        # The statistics of the fill say no conversion is manual_upload: without these the
        # planner loops over the one it expects, for minutes.
        cursor.execute("ANALYZE conversions_conversion, conversions_statuschange")
        # Every manual_upload conversion is the job's (the fill's are postbacks').
        cursor.execute(
            """SELECT count(*), count(*) FILTER (WHERE s.audit_rows = 1)
            FROM conversions_conversion c LEFT JOIN (
                SELECT conversion_id, count(*) AS audit_rows FROM conversions_statuschange
                WHERE import_job_id = %s GROUP BY conversion_id
            ) s ON s.conversion_id = c.id
            WHERE c.status_source = 'manual_upload'""",
            [import_job_id],
        )
        created, with_one_audit_row = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM conversions_statuschange WHERE import_job_id = %s",
            [import_job_id],
        )
        (audit,) = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM callbacks_callbackdelivery d JOIN conversions_statuschange"
            " s ON s.id = d.status_change_id WHERE s.import_job_id = %s",
            [import_job_id],
        )
        (outbox,) = cursor.fetchone()
    applied = summary["applied_total"]
    print(
        f"checked: new conversions {created:,} (applied {applied:,}, written to be accepted "
        f"{expected['accepted']:,}), with one audit row of the job {with_one_audit_row:,}, "
        f"audit rows {audit:,}, outbox rows {outbox:,} (summary {summary['callbacks']:,}); "
        f"validation peak RSS {outcome['validate_peak_rss_mb']:.0f} MB",
        flush=True,
    )
    refused = {kind: summary[kind] for kind in ("not_found", "invalid", "conflicting")}
    if refused != {kind: expected[kind] for kind in refused}:
        sys.exit(f"refused rows {refused} are not the ones written {dict(expected)}")
    if not created == with_one_audit_row == audit == applied == expected["accepted"]:
        sys.exit("new conversions, their audit rows and the summary do not match")
    if outbox != summary["callbacks"]:
        sys.exit("outbox rows do not match the summary")


def outcome_check(import_job_id: int, outcome: dict) -> None:
    """Print the job's preview and apply summaries, and check its audit and outbox rows
    against them (stops the benchmark when they differ)."""
    from django.db import connection

    summary = outcome["summary"]
    print("preview: " + json.dumps({k: summary[k] for k in PREVIEW_KEYS}), flush=True)
    print("applied: " + json.dumps({k: summary[k] for k in APPLIED_KEYS}), flush=True)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM conversions_statuschange WHERE import_job_id = %s",
            [import_job_id],
        )
        (audit,) = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM callbacks_callbackdelivery d JOIN conversions_statuschange"
            " s ON s.id = d.status_change_id WHERE s.import_job_id = %s",
            [import_job_id],
        )
        (outbox,) = cursor.fetchone()
    print(
        f"checked: audit rows {audit:,} (applied {summary['applied_total']:,}), "
        f"outbox rows {outbox:,} (summary {summary['callbacks']:,}); validation peak RSS "
        f"{outcome['validate_peak_rss_mb']:.0f} MB",
        flush=True,
    )
    if audit != summary["applied_total"] or outbox != summary["callbacks"]:
        sys.exit("audit or outbox rows do not match the summary")


def stock_compare(*, stock_rows: int, rows_per_s: float) -> float:
    """The stock ``ModelResource``'s rows per second on a slice of the same changes (default
    settings), printed beside one limited to the three imported fields."""
    slice_rows = stock_slice(stock_rows)
    # The reference is a ModelResource with default settings (about 420 rows/s
    # here). One limited to the three imported fields skips the diff of the other fields
    # and runs about 10% faster: printed too, with the ratio it gives.
    limited = stock_rows_per_s(slice_rows, fields=("id", "status", "status_reason"))
    stock = stock_rows_per_s(slice_rows)
    print(
        f"stock ModelResource: {len(slice_rows):,} rows at {stock:.0f} rows/s (default "
        f"settings); {limited:.0f} rows/s with fields limited to id, status and "
        f"status_reason (ratio {rows_per_s / limited:.0f})",
        flush=True,
    )
    return stock


def indexes_drop(names: list[str]) -> None:
    """Drop these indexes of the conversions table (``--without-index``), said on the way."""
    from django.db import connection

    with connection.cursor() as cursor:
        for name in names:
            cursor.execute(
                "SELECT 1 FROM pg_indexes WHERE tablename = 'conversions_conversion'"
                " AND indexname = %s",
                [name],
            )
            if cursor.fetchone() is None:
                sys.exit(f"the conversions table has no index {name}")
            cursor.execute(f'DROP INDEX "{name}"')
            print(f"dropped index {name}", flush=True)


def benchmark_run(args: argparse.Namespace, env: dict[str, str], media: str) -> str:
    """Fill, write the file, validate and apply it in a worker, check, compare with the stock
    resource (and revert); the last line."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    max_bytes, max_rows, clicks = file_limits(args)
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    fill(clicks)
    print(f"filled {args.database} in {time.perf_counter() - started:.1f} s", flush=True)
    indexes_drop(args.without_index)
    if args.create:
        return upload_run(args, env, media, max_bytes=max_bytes, max_rows=max_rows)
    job, rows = status_file_create(args, media, max_bytes=max_bytes, max_rows=max_rows)
    connections.close_all()
    outcome = worker_subprocess_run(job.pk, env, what="import")
    outcome_check(job.pk, outcome)
    revert_figures = " " + revert_run(job, env) if args.revert else ""
    rows_per_s = rows / (outcome["validate_s"] + outcome["apply_s"])
    if args.amounts:
        return (
            f"format={args.format} amounts=1 rows={rows} "
            f"validate_s={outcome['validate_s']:.1f} apply_s={outcome['apply_s']:.1f} "
            f"apply_wal_mb={outcome['apply_wal_mb']:.0f} "
            f"apply_checkpoints={outcome['apply_checkpoints']} "
            f"peak_rss_mb={outcome['peak_rss_mb']:.0f} rows_per_s={rows_per_s:.0f} "
            f"changed={outcome['summary']['applied_total']} "
            f"amounts_changed={outcome['summary'].get('amounts', 0)} "
            f"money_s={outcome['money_s']:.1f}" + revert_figures
        )
    stock = stock_compare(stock_rows=args.stock_rows, rows_per_s=rows_per_s)
    return (
        f"format={args.format} rows={rows} validate_s={outcome['validate_s']:.1f} "
        f"apply_s={outcome['apply_s']:.1f} apply_wal_mb={outcome['apply_wal_mb']:.0f} "
        f"apply_checkpoints={outcome['apply_checkpoints']} "
        f"peak_rss_mb={outcome['peak_rss_mb']:.0f} "
        f"rows_per_s={rows_per_s:.0f} stock_rows_per_s={stock:.0f} "
        f"ratio={rows_per_s / stock:.0f} money_s={outcome['money_s']:.1f}" + revert_figures
    )


def upload_run(
    args: argparse.Namespace, env: dict[str, str], media: str, *, max_bytes: int, max_rows: int
) -> str:
    """Write the conversion upload, check and apply it in a worker, check the new conversions
    (and revert them); the last line."""
    from django.db import connections

    job, rows, expected = upload_file_create(args, media, max_bytes=max_bytes, max_rows=max_rows)
    connections.close_all()
    outcome = worker_subprocess_run(job.pk, env, what="upload")
    upload_outcome_check(job.pk, outcome, expected)
    revert_figures = " " + revert_run(job, env) if args.revert else ""
    rows_per_s = rows / (outcome["validate_s"] + outcome["apply_s"])
    summary = outcome["summary"]
    return (
        f"format={args.format} create=1 rows={rows} validate_s={outcome['validate_s']:.1f} "
        f"apply_s={outcome['apply_s']:.1f} peak_rss_mb={outcome['peak_rss_mb']:.0f} "
        f"rows_per_s={rows_per_s:.0f} applied={summary['applied_total']} "
        f"refused={summary['rejected_rows']} money_s={outcome['money_s']:.1f}" + revert_figures
    )


def main() -> None:
    args = arguments_parse()
    if args.worker:
        print(json.dumps(worker_run(args.worker)))
        return

    postgres_url = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
    media = tempfile.mkdtemp(prefix="gokart-bench-import-")
    env = {
        **bench_environment(postgres_url, args.database, media, "bench-import"),
        # Four-eyes approval is not what is measured: the worker confirms as no one.
        "IMPORT_APPROVAL_MIN_CONVERSIONS": "0",
        "IMPORT_APPROVAL_MIN_PAYOUT": "",
    }
    os.environ.update(env)
    database_recreate(postgres_url, args.database)
    try:
        print(benchmark_run(args, env, media))
    finally:
        bench_cleanup(postgres_url, args.database, media, keep_db=args.keep_db)


if __name__ == "__main__":
    main()
