"""The XLSX and XLS readers in a child process, so that parsing runs on one core while the
worker checks the rows and copies them to PostgreSQL on another.

- XLSX: parsing a full sheet is most of its validation (about 10 s of 20 s for 1,048,575 rows,
  measured); the checks and the COPY behind it take about 3 s more in the same process. The
  child runs ``conversions.imports.xlsx.xlsx_rows`` unchanged (same limits, same hardening, same
  messages).
- XLS: the child reads with python-calamine (``readers.xls_rows_calamine``: 0.05 s for 65,535
  rows against xlrd's 0.4 s, measured). calamine holds the sheet's whole bounding box in
  memory (one cell at IV65536 costs 1 GB), so the child runs under an address-space limit
  (``IMPORT_XLS_READER_MAX_BYTES``). A sheet it cannot read within it, or at all, is read
  again in the worker by xlrd (``readers.xls_rows``: sparse, and the reference for messages).

A separate interpreter, not a fork: workers run tasks in threads. Records on the child's stdout,
each a ``marshal`` object after its length (4 bytes): ``("rows", [(number, cells), …])``,
``("progress", done, total)``, then ``("end",)``; or ``("unusable", message)`` for a file the
reader refuses (raised again in the worker as ``UnusableFile``); or, from the XLS child,
``("unread", reason)`` for a file left to xlrd. A child that stops otherwise is raised as
``RuntimeError`` with the end of its stderr, except an XLS child that sent no row yet (out of
memory: calamine aborts), whose file is also left to xlrd.
"""

from __future__ import annotations

import json
import logging
import marshal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conversions.imports.readers import Progress, Rows, UnusableFile, xls_rows

logger = logging.getLogger(__name__)

BATCH_ROWS = 2048
# The settings the XLSX reader takes from Django, passed to the child (which does not set
# Django up).
XLSX_SETTINGS = (
    "IMPORT_XLSX_MAX_UNCOMPRESSED_BYTES",
    "IMPORT_XLSX_MAX_RATIO",
    "IMPORT_XLSX_MAX_SHARED_STRINGS_BYTES",
)


class _Unread(Exception):
    """The XLS child could not read the file; xlrd will."""


def rows_in_process(
    path: Path | str, file_format: str, *, progress: Progress | None = None
) -> Rows:
    """The rows of the XLSX or XLS file at ``path``, read by a child process."""
    from django.conf import settings

    if file_format == "xlsx":
        options = {
            name: getattr(settings, name) for name in XLSX_SETTINGS if hasattr(settings, name)
        }
        yield from _child_rows(path, file_format, options, progress)
        return
    options = {"max_bytes": settings.IMPORT_XLS_READER_MAX_BYTES}
    try:
        yield from _child_rows(path, file_format, options, progress)
    except _Unread as reason:
        logger.info("Reading %s with xlrd: python-calamine could not (%s)", path, reason)
        yield from xls_rows(path, progress=progress)


def _child_rows(
    path: Path | str, file_format: str, options: dict[str, Any], progress: Progress | None
) -> Rows:
    child = subprocess.Popen(  # noqa: S603 -- our own module, our own interpreter
        [sys.executable, "-m", __name__, file_format, str(path), json.dumps(options)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=1024 * 1024,
    )
    assert child.stdout is not None and child.stderr is not None  # noqa: S101 -- PIPEs above
    rows_seen = False
    try:
        while True:
            header = child.stdout.read(4)
            size = int.from_bytes(header, "little") if len(header) == 4 else -1
            data = child.stdout.read(size) if size >= 0 else b""
            if len(data) != size:
                # communicate(), not wait(): a child blocked on a full stderr pipe never exits.
                _, errors = child.communicate()
                ending = errors[-2000:].decode(errors="replace").strip()
                if file_format == "xls" and not rows_seen:
                    first_line = ending.partition("\n")[0][
                        :300
                    ]  # e.g. "memory allocation … failed"
                    raise _Unread(f"exit status {child.returncode}: {first_line}")
                raise RuntimeError(
                    f"the {file_format.upper()} reader process stopped "
                    f"(exit status {child.returncode}): {ending}"
                )
            record = marshal.loads(data)  # noqa: S302 -- written by our own child process
            kind = record[0]
            if kind == "rows":
                rows_seen = rows_seen or bool(record[1])
                yield from record[1]
            elif kind == "progress":
                if progress is not None:
                    progress(record[1], record[2])
            elif kind == "unusable":
                raise UnusableFile(record[1])
            elif kind == "unread" and not rows_seen:
                raise _Unread(record[1])
            elif kind == "unread":
                raise RuntimeError(f"the XLS reader process stopped part-way: {record[1]}")
            else:
                return
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        child.stdout.close()
        child.stderr.close()


# --- the child --------------------------------------------------------------------------------


def _child(file_format: str, path: str, options: dict[str, Any]) -> None:
    out = sys.stdout.buffer

    def dump(record: tuple) -> None:
        data = marshal.dumps(record)
        out.write(len(data).to_bytes(4, "little"))
        out.write(data)

    def progress(done: int, total: int) -> None:
        dump(("progress", done, total))

    rows: Callable[..., Rows]
    if file_format == "xlsx":
        from django.conf import settings

        settings.configure(**options)
        from conversions.imports.xlsx import xlsx_rows as rows
    else:
        import resource

        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (options["max_bytes"], hard))
        from conversions.imports.readers import xls_rows_calamine as rows

    batch: list[tuple[int, list[str]]] = []
    read = 0
    try:
        for row in rows(path, progress=progress):
            read += 1
            batch.append(row)
            if len(batch) == BATCH_ROWS:
                dump(("rows", batch))
                batch = []
        dump(("rows", batch))
        dump(("end",))
    except UnusableFile as error:
        dump(("rows", batch))
        dump(("unusable", error.message))
    except BaseException as error:  # noqa: BLE001 -- calamine raises its own kinds, and panics
        if file_format == "xlsx" or read:
            raise
        dump(("unread", f"{type(error).__name__}: {error}"[:300]))
    out.flush()


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))
