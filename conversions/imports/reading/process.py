"""The XLSX and XLS readers in a child process, so that parsing runs on one core while the
worker checks the rows and copies them to PostgreSQL on another.

Each file is read first by python-calamine (``calamine.calamine_rows``), measured at 1.7 s
against our streaming reader's 10 s for a 1,048,575-row XLSX, and 0.05 s against xlrd's 0.4 s
for a 65,535-row XLS. But calamine holds the sheet's whole bounding box in memory (one cell at
IV65536 of an XLS costs 1 GB), and it sees no formula, only their cached results. So:

- its child runs under an address-space limit (``IMPORT_READER_MAX_BYTES``): a sheet that
  needs more makes it stop (calamine aborts) before it sends a row;
- an XLSX whose sheet holds formulas (or a DTD), or more cells than the limit allows, is not
  given to it (``xlsx.xlsx_for_values_reader``);
- a file it stops on or cannot read, or does not get, is read again by the reference reader of
  its format, in a second child: ``xlsx.xlsx_rows`` (hardened, streaming, sees formulas) or
  xlrd (``xls.xls_rows``, sparse). Their messages are the ones an admin reads.
- calamine may also stop after it has sent rows (it holds the sheet, and the rows it makes
  take memory too: 4,096 short rows then 3,000 of 100,000 characters did). The rows already
  given are not taken back: the reference reader reads them again without sending them,
  checks that their running CRC-32 is the one calamine's rows had (``child.row_crc``), and
  sends the rest. This costs nothing while calamine succeeds (the CRC runs in the child, on
  the other core), and on a fallback the re-reading of the rows already given.

A separate interpreter, not a fork: workers run tasks in threads. The child is
``python -m conversions.imports.reading.child``; this module is the worker's side. Records on
the child's stdout, each a ``marshal`` object after its length (4 bytes): ``("rows", [(number,
cells), …])``, ``("progress", done, total)``, then ``("end",)``; or ``("unusable", message)``
for a file the reference reader refuses (raised again in the worker as ``UnusableFile``); or
``("unread", reason)`` from calamine's child for a file it leaves to the reference reader (at
any point). A calamine child that stops otherwise is treated as ``unread``; a reference child
that stops otherwise (killed) is raised as ``RuntimeError`` with the end of its stderr.
"""

from __future__ import annotations

import json
import logging
import marshal
import subprocess
import sys
from pathlib import Path
from typing import Any

from conversions.imports.reading.types import Progress, Rows, UnusableFile

logger = logging.getLogger(__name__)

# The child's module: run by its path, never imported here.
CHILD_MODULE = "conversions.imports.reading.child"
# The settings the readers take from Django, passed to the child (which does not set Django
# up).
READER_SETTINGS = (
    "IMPORT_XLSX_MAX_UNCOMPRESSED_BYTES",
    "IMPORT_XLSX_MAX_RATIO",
    "IMPORT_XLSX_MAX_SHARED_STRINGS_BYTES",
    "IMPORT_READER_MAX_ROW_CHARS",
    "IMPORT_READER_MAX_CELL_CHARS",
)


class _Unread(Exception):
    """calamine's child did not read the file; the reference reader will."""


class _Given:
    """How many rows a child's rows have given so far, and their running CRC-32."""

    def __init__(self) -> None:
        self.rows = 0
        self.crc = 0


def rows_in_process(
    path: Path | str, file_format: str, *, progress: Progress | None = None
) -> Rows:
    """The rows of the XLSX or XLS file at ``path``, read by a child process."""
    from django.conf import settings

    options: dict[str, Any] = {
        "max_bytes": settings.IMPORT_READER_MAX_BYTES,
        "settings": {
            name: getattr(settings, name) for name in READER_SETTINGS if hasattr(settings, name)
        },
    }
    given = _Given()
    try:
        yield from _child_rows(path, file_format, "calamine", options, progress, given)
    except _Unread as reason:
        logger.info(
            "Reading %s with the reference reader from row %s on: python-calamine did not (%s)",
            path,
            given.rows + 1,
            reason,
        )
        options.update(skip_rows=given.rows, skip_crc=given.crc)
        yield from _child_rows(path, file_format, "reference", options, progress, _Given())


def _child_rows(
    path: Path | str,
    file_format: str,
    reader: str,
    options: dict[str, Any],
    progress: Progress | None,
    given: _Given,
) -> Rows:
    child = subprocess.Popen(  # noqa: S603 -- our own module, our own interpreter
        [sys.executable, "-m", CHILD_MODULE, file_format, reader, str(path), json.dumps(options)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=1024 * 1024,
    )
    assert child.stdout is not None and child.stderr is not None  # noqa: S101 -- PIPEs above
    fallible = reader == "calamine"  # at any point: the reference reader takes over
    try:
        while True:
            header = child.stdout.read(4)
            size = int.from_bytes(header, "little") if len(header) == 4 else -1
            data = child.stdout.read(size) if size >= 0 else b""
            if len(data) != size:
                # communicate(), not wait(): a child blocked on a full stderr pipe never exits.
                _, errors = child.communicate()
                ending = errors[-2000:].decode(errors="replace").strip()
                if fallible:  # e.g. "memory allocation of 268435456 bytes failed"
                    first_line = ending.partition("\n")[0]
                    raise _Unread(f"exit status {child.returncode}: {first_line}")
                raise RuntimeError(
                    f"the {file_format.upper()} reader process stopped "
                    f"(exit status {child.returncode}): {ending}"
                )
            record = marshal.loads(data)  # noqa: S302 -- written by our own child process
            kind = record[0]
            if kind == "rows":
                yield from record[1]
                given.rows += len(record[1])
                given.crc = record[2]
            elif kind == "progress":
                if progress is not None:
                    progress(record[1], record[2])
            elif kind == "unusable":
                raise UnusableFile(record[1])
            elif kind == "unread":
                raise _Unread(record[1])
            else:
                return
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        child.stdout.close()
        child.stderr.close()
