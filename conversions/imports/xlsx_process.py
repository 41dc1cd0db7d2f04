"""The XLSX reader in a child process, so that parsing runs on one core while the worker checks
the rows and copies them to PostgreSQL on another.

Parsing a full sheet is most of an XLSX validation (about 10 s of 20 s for 1,048,575 rows,
measured); the checks and the COPY behind it take about 3 s more in the same process. The child
runs ``conversions.imports.xlsx.xlsx_rows`` unchanged (same limits, same hardening, same
messages) and sends its rows back through a pipe in marshalled batches, so the worker only
unpacks them. A separate interpreter, not a fork: workers run tasks in threads.

Records on the child's stdout, each a ``marshal`` object after its length (4 bytes):
``("rows", [(number, cells), …])``, ``("progress", done, total)``, then ``("end",)``, or
``("unusable", message)`` for a file the reader refuses (raised again in the worker as
``UnusableFile``). Anything else that stops the child is raised as ``RuntimeError`` with the
end of its stderr.
"""

from __future__ import annotations

import json
import marshal
import subprocess
import sys
from pathlib import Path

from conversions.imports.readers import Progress, Rows, UnusableFile

BATCH_ROWS = 2048
# The settings the reader takes from Django, passed to the child (which does not set Django up).
SETTINGS = (
    "IMPORT_XLSX_MAX_UNCOMPRESSED_BYTES",
    "IMPORT_XLSX_MAX_RATIO",
    "IMPORT_XLSX_MAX_SHARED_STRINGS_BYTES",
)


def xlsx_rows_in_process(path: Path | str, *, progress: Progress | None = None) -> Rows:
    """The rows of ``xlsx_rows(path)``, read by a child process."""
    from django.conf import settings

    limits = {name: getattr(settings, name) for name in SETTINGS if hasattr(settings, name)}
    child = subprocess.Popen(  # noqa: S603 -- our own module, our own interpreter
        [sys.executable, "-m", __name__, str(path), json.dumps(limits)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=1024 * 1024,
    )
    assert child.stdout is not None and child.stderr is not None  # noqa: S101 -- PIPEs above
    try:
        while True:
            header = child.stdout.read(4)
            size = int.from_bytes(header, "little") if len(header) == 4 else -1
            data = child.stdout.read(size) if size >= 0 else b""
            if len(data) != size:
                # communicate(), not wait(): a child blocked on a full stderr pipe never exits.
                _, errors = child.communicate()
                raise RuntimeError(
                    f"the XLSX reader process stopped (exit status {child.returncode}): "
                    + errors[-2000:].decode(errors="replace").strip()
                )
            record = marshal.loads(data)  # noqa: S302 -- written by our own child process
            kind = record[0]
            if kind == "rows":
                yield from record[1]
            elif kind == "progress":
                if progress is not None:
                    progress(record[1], record[2])
            elif kind == "unusable":
                raise UnusableFile(record[1])
            else:
                return
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        child.stdout.close()
        child.stderr.close()


def _child(path: str, limits: dict[str, int]) -> None:
    from django.conf import settings

    settings.configure(**limits)
    from conversions.imports.xlsx import xlsx_rows

    out = sys.stdout.buffer
    batch: list[tuple[int, list[str]]] = []

    def dump(record: tuple) -> None:
        data = marshal.dumps(record)
        out.write(len(data).to_bytes(4, "little"))
        out.write(data)

    def progress(done: int, total: int) -> None:
        dump(("progress", done, total))

    try:
        for row in xlsx_rows(path, progress=progress):
            batch.append(row)
            if len(batch) == BATCH_ROWS:
                dump(("rows", batch))
                batch = []
        dump(("rows", batch))
        dump(("end",))
    except UnusableFile as error:
        dump(("rows", batch))
        dump(("unusable", error.message))
    out.flush()


if __name__ == "__main__":
    _child(sys.argv[1], json.loads(sys.argv[2]))
