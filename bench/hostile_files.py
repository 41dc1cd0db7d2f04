"""Hostile status files: bounded memory, no crash, no row lost, through the real validation.

    .venv/bin/python bench/hostile_files.py [--only NAME …] [--keep-db]

What it does, all on this machine:

1. creates its own PostgreSQL database (``gokart_bench_hostile``, dropped at the end unless
   ``--keep-db``) and migrates it (no conversions: every valid row is "not found", which is
   enough to count rows);
2. writes each shape below, up to 100 MB: CSV rows of 20 and 60 MB, a 95 MB header, a 60 MB
   line of commas, an unclosed quote in a 100 MB file, a plain 100 MB file; XLSX rows of
   10 million ``<c/>`` with a formula (the streaming reader), 3,000 rows of 100,000-character
   inline strings (one and four a row), long cells within the limit, 4,096 short rows then long
   ones, a 1,048,575-row sheet (calamine) and the same with a formula (the streaming reader), a
   large shared-strings table; an XLS with a stray far cell (calamine's bounding box);
3. uploads it (``import_job_create``, whose checks refuse zip bombs and disguised files), then
   runs the validation in a separate worker process as Celery would
   (``import_job_validate_task``), sampling every 20 ms the RSS of that process and of its
   reader children (psutil), and timing it;
4. checks the outcome: a crash is a worker that died or a job failed on an unexpected error; a
   lost row is a file read without refusal whose row count is not the number of data rows
   written.

Connection settings: ``BENCH_POSTGRES_URL`` (default ``postgres://postgres@127.0.0.1:5432``).
Last line: ``files=… worst_tree_rss_mb=… worst_s=… crashes=… lost_rows=…``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
# The project, in place of bench/ itself: bench/click.py and bench/api.py would shadow the
# click package (Celery imports it) and the api app.
sys.path[0] = str(BASE_DIR)

from bench.database import bench_cleanup, bench_environment, database_recreate  # noqa: E402
from bench.import_statuses_files import XLSX_PARTS  # noqa: E402

MB = 1024 * 1024
HEADER = "gk_click_id,EventId,Status,Reason\n"
NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


# --- the shapes: each writes its file and returns the data rows a full read must count, or None
# --- when only a refusal is right ------------------------------------------------------------


def csv_long_row(size: int) -> Callable[[Path], int | None]:
    def write(path: Path) -> int | None:
        with open(path, "wb") as out:
            out.write(HEADER.encode() + b"abc,1,Success,")
            out.write(b"ab," * (size // 3) + b"\n")
            out.write(b"def,2,Success,ok\n")
        return None

    return write


def csv_header(path: Path) -> int | None:
    with open(path, "wb") as out:
        out.write(b"gk_click_id,EventId,Status," + b"h" * (95 * MB) + b"\n1,2,Success\n")
    return None


def csv_commas(path: Path) -> int | None:
    with open(path, "wb") as out:
        out.write(HEADER.encode() + b"," * (60 * MB) + b"\n")
    return None


def _csv_plain_rows(count: int) -> Iterator[bytes]:
    for n in range(count):
        yield b"%032x,%d,Success,checked in review\n" % (n, n + 1)


def csv_plain(path: Path) -> int | None:
    rows = 0
    with open(path, "wb") as out:
        out.write(HEADER.encode())
        for line in _csv_plain_rows(10**9):
            if rows % 1000 == 0 and out.tell() > 100 * MB - 256 * 1024:
                break
            out.write(line)
            rows += 1
    return rows


def csv_unclosed_quote(path: Path) -> int | None:
    with open(path, "wb") as out:
        out.write(HEADER.encode())
        for rows, line in enumerate(_csv_plain_rows(10**9)):
            if rows == 100:
                line = b'%032x,%d,Success,"never closed\n' % (rows, rows + 1)
            if rows % 1000 == 0 and out.tell() > 100 * MB - 256 * 1024:
                break
            out.write(line)
    return None


def _xlsx(path: Path, rows: Iterator[bytes], strings: list[str] | None = None) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for name, text in XLSX_PARTS.items():
            archive.writestr(name, text)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(f'<?xml version="1.0"?><worksheet xmlns="{NS}"><sheetData>'.encode())
            buffer: list[bytes] = []
            for row in rows:
                buffer.append(row)
                if len(buffer) >= 2000:
                    sheet.write(b"".join(buffer))
                    buffer = []
            sheet.write(b"".join(buffer) + b"</sheetData></worksheet>")
        with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as table:
            table.write(f'<?xml version="1.0"?><sst xmlns="{NS}">'.encode())
            for start in range(0, len(strings or []), 5000):
                chunk = (strings or [])[start : start + 5000]
                table.write("".join(f"<si><t>{text}</t></si>" for text in chunk).encode())
            table.write(b"</sst>")


def _inline(reference: str, text: str) -> str:
    return f'<c r="{reference}" t="inlineStr"><is><t>{text}</t></is></c>'


def _header_row() -> bytes:
    cells = "".join(
        _inline(f"{c}1", t) for c, t in zip("ABCD", HEADER.strip().split(","), strict=True)
    )
    return f'<row r="1">{cells}</row>'.encode()


def _noise(length: int) -> str:
    # Four letters at random: 2 bits a character, so a long text stays under the zip-bomb ratio
    # and the upload limit.
    return "".join(random.choices("acgt", k=length))  # noqa: S311 -- not for secrets


def xlsx_empty_cells(path: Path) -> int | None:
    def rows() -> Iterator[bytes]:
        yield _header_row()
        # Varied style indexes, so that the zip does not look like a bomb; one formula, so
        # that the streaming reader gets the file.
        cells = "".join(f'<c s="{random.randrange(10**4)}"/>' for _ in range(10**6))  # noqa: S311
        yield b'<row r="2">' + cells.encode() * 10 + b'<c r="B2"><f>1+1</f></c></row>'

    _xlsx(path, rows())
    return None


def xlsx_long_inline(length: int, per_row: int, count: int, short_first: int = 0):
    def write(path: Path) -> int | None:
        text = _noise(length)

        def rows() -> Iterator[bytes]:
            yield _header_row()
            for n in range(2, short_first + 2):
                status = _inline(f"C{n}", "Success")
                yield f'<row r="{n}"><c r="B{n}"><v>{n}</v></c>{status}</row>'.encode()
            for n in range(short_first + 2, short_first + count + 2):
                long_cells = "".join(_inline(f"{c}{n}", text) for c in "DEFG"[:per_row])
                yield (
                    f'<row r="{n}"><c r="B{n}"><v>{n}</v></c>{_inline(f"C{n}", "Success")}'
                    f"{long_cells}</row>"
                ).encode()

        _xlsx(path, rows())
        return short_first + count

    return write


def xlsx_full(formula: bool, shared: bool = False):
    """1,048,575 rows as Excel writes them (shared strings, unique click ids) or inline."""

    def write(path: Path) -> int | None:
        strings: list[str] = ["Success", "checked"]

        def rows() -> Iterator[bytes]:
            yield _header_row()
            for n in range(2, 1_048_577):
                click = f"{n:032x}"
                if shared:
                    strings.append(click)
                    first = f'<c r="A{n}" t="s"><v>{len(strings) - 1}</v></c>'
                    status = f'<c r="C{n}" t="s"><v>0</v></c><c r="D{n}" t="s"><v>1</v></c>'
                else:
                    first = _inline(f"A{n}", click)
                    status = _inline(f"C{n}", "Success") + _inline(f"D{n}", "checked")
                extra = f'<c r="E{n}"><f>1+1</f><v>2</v></c>' if formula and n == 2 else ""
                cells = f'{first}<c r="B{n}"><v>{n}</v></c>{status}{extra}'
                yield f'<row r="{n}">{cells}</row>'.encode()

        _xlsx(path, rows(), strings)
        return 1_048_575

    return write


def xls_stray_cell(path: Path) -> int | None:
    import xlwt

    book = xlwt.Workbook()
    sheet = book.add_sheet("Statuses")
    for column, value in enumerate(HEADER.strip().split(",")):
        sheet.write(0, column, value)
    for n in range(1, 60_000):
        sheet.write(n, 1, n)
        sheet.write(n, 2, "Success")
    sheet.write(65_535, 255, "stray")
    book.save(str(path))
    return 59_999  # (the stray row holds no id: it is not counted)


SHAPES: dict[str, tuple[str, Callable[[Path], int | None]]] = {
    "csv_row_20mb_short_cells": ("csv", csv_long_row(20 * MB)),
    "csv_row_60mb_short_cells": ("csv", csv_long_row(60 * MB)),
    "csv_header_95mb": ("csv", csv_header),
    "csv_line_of_commas_60mb": ("csv", csv_commas),
    "csv_unclosed_quote_100mb": ("csv", csv_unclosed_quote),
    "csv_plain_100mb": ("csv", csv_plain),
    "xlsx_10m_empty_cells_formula": ("xlsx", xlsx_empty_cells),
    "xlsx_3000_rows_100k_inline": ("xlsx", xlsx_long_inline(100_000, 1, 3000)),
    "xlsx_750_rows_4x100k_inline": ("xlsx", xlsx_long_inline(100_000, 4, 750)),
    "xlsx_4096_short_then_100k": ("xlsx", xlsx_long_inline(100_000, 1, 3000, 4096)),
    "xlsx_2000_rows_4x30k_inline": ("xlsx", xlsx_long_inline(30_000, 4, 2000)),
    "xlsx_full_sheet_shared": ("xlsx", xlsx_full(formula=False, shared=True)),
    "xlsx_full_sheet_inline_formula": ("xlsx", xlsx_full(formula=True)),
    "xls_stray_far_cell": ("xls", xls_stray_cell),
}


# --- the worker process ----------------------------------------------------------------------


def worker_run(import_job_id: int) -> dict:
    import django

    django.setup()
    from conversions.change_sets import tasks
    from conversions.models import ImportJob

    tasks.import_job_validate_task(import_job_id)
    job = ImportJob.objects.get(pk=import_job_id)
    return {"state": job.state, "error": job.error_message, "summary": job.summary}


def tree_rss(process: object) -> int:
    import psutil

    assert isinstance(process, psutil.Process)  # noqa: S101
    total = 0
    for member in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):  # (a child that just ended)
            total += member.memory_info().rss
    return total


def measured(env: dict[str, str], job_id: int) -> tuple[dict, float, float]:
    """Run the validation in a worker process: its outcome, peak tree RSS (MB), seconds."""
    import psutil

    started = time.perf_counter()
    worker = subprocess.Popen(  # noqa: S603 -- our own script
        [sys.executable, __file__, "--worker", str(job_id)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    process = psutil.Process(worker.pid)
    peak = 0
    while worker.poll() is None:
        with contextlib.suppress(psutil.Error):
            peak = max(peak, tree_rss(process))
        time.sleep(0.02)
    out, err = worker.communicate()
    seconds = time.perf_counter() - started
    if worker.returncode != 0:
        return {"state": "crashed", "error": err[-1500:]}, peak / MB, seconds
    return json.loads(out.strip().splitlines()[-1]), peak / MB, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=sorted(SHAPES), help="these shapes only")
    parser.add_argument("--database", default="gokart_bench_hostile")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker_run(args.worker)))
        return

    random.seed(7)
    postgres_url = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
    media = tempfile.mkdtemp(prefix="gokart-bench-hostile-")
    env = bench_environment(postgres_url, args.database, media, "bench-hostile")
    os.environ.update(env)
    database_recreate(postgres_url, args.database)
    results = []
    try:
        import django

        django.setup()
        from django.core.exceptions import ValidationError
        from django.core.management import call_command
        from django.db import connections

        from conversions.imports import services

        call_command("migrate", verbosity=0)
        for name in args.only or SHAPES:
            file_format, write = SHAPES[name]
            path = Path(media) / f"{name}.{file_format}"
            expected = write(path)
            size_mb = path.stat().st_size / MB
            started = time.perf_counter()
            try:
                job = services.import_job_create(
                    user=None, upload=path, original_name=path.name, queue_validation=False
                )
            except ValidationError as error:
                outcome = {"state": "refused at upload", "error": " ".join(error.messages)}
                rss, seconds = 0.0, time.perf_counter() - started
            else:
                connections.close_all()
                outcome, rss, seconds = measured(env, job.pk)
            path.unlink()
            crashed = outcome["state"] in ("crashed", "failed") or "unexpected error" in (
                outcome.get("error") or ""
            )
            read_rows = (outcome.get("summary") or {}).get("rows")
            lost = (
                abs(expected - read_rows) if expected is not None and read_rows is not None else 0
            )
            results.append((name, rss, seconds, crashed, lost))
            print(
                f"{name}: {size_mb:.1f} MB, {outcome['state']}, rows {read_rows} "
                f"(written {expected}), tree RSS {rss:.0f} MB, {seconds:.1f} s"
                + (f"\n    {outcome['error'][:300]}" if outcome.get("error") else ""),
                flush=True,
            )
        print(
            f"files={len(results)} "
            f"worst_tree_rss_mb={max(r[1] for r in results):.0f} "
            f"worst_s={max(r[2] for r in results):.1f} "
            f"crashes={sum(r[3] for r in results)} "
            f"lost_rows={sum(r[4] for r in results)}"
        )
    finally:
        bench_cleanup(postgres_url, args.database, media, keep_db=args.keep_db)


if __name__ == "__main__":
    main()
