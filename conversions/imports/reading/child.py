"""The reader child process: reads one XLSX or XLS file and writes its rows to stdout.

Run as ``python -m conversions.imports.reading.child FORMAT READER PATH OPTIONS`` by
``process`` (which documents the records and why a child at all). ``READER`` is ``calamine``
(under an address-space limit; a file it cannot read as the reference reader would is answered
with ``("unread", reason)`` before any row) or ``reference`` (``xlsx.xlsx_rows`` or
``xls.xls_rows``). Django is not set up here: the XLSX reader's settings come in ``OPTIONS``.
"""

from __future__ import annotations

import json
import marshal
import sys
from collections.abc import Callable
from typing import Any

from conversions.imports.reading.types import Rows, UnusableFile

BATCH_ROWS = 2048
# calamine's memory per cell of a sheet, measured at about 70 bytes (295 MB for 1,048,576 rows
# of four cells); a sheet of more cells than the limit allows at this rate is not given to it.
CALAMINE_BYTES_PER_CELL = 80


class _Unread(Exception):
    """calamine will not read this file as the reference reader would: say so, send no row."""


def _child(file_format: str, reader: str, path: str, options: dict[str, Any]) -> None:
    out = sys.stdout.buffer

    def dump(record: tuple) -> None:
        data = marshal.dumps(record)
        out.write(len(data).to_bytes(4, "little"))
        out.write(data)

    def progress(done: int, total: int) -> None:
        dump(("progress", done, total))

    if file_format == "xlsx":
        from django.conf import settings

        settings.configure(**options["settings"])
    rows: Callable[..., Rows]
    if reader == "calamine":
        import resource

        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (options["max_bytes"], hard))
        from conversions.imports.reading.calamine import calamine_rows as rows
    elif file_format == "xlsx":
        from conversions.imports.reading.xlsx import xlsx_rows as rows
    else:
        from conversions.imports.reading.xls import xls_rows as rows

    batch: list[tuple[int, list[str]]] = []
    read = 0
    try:
        if reader == "calamine" and file_format == "xlsx":
            from conversions.imports.reading.xlsx import xlsx_for_values_reader

            max_cells = options["max_bytes"] // CALAMINE_BYTES_PER_CELL
            if not xlsx_for_values_reader(path, max_cells=max_cells):
                raise _Unread(f"the sheet holds formulas, a DTD or more than {max_cells:,} cells")
        for row in rows(path, progress=progress):
            read += 1
            batch.append(row)
            if len(batch) == BATCH_ROWS:
                dump(("rows", batch))
                batch = []
        dump(("rows", batch))
        dump(("end",))
    except UnusableFile as error:
        if reader == "calamine" and not read:
            dump(("unread", error.message[:300]))
        else:
            dump(("rows", batch))
            dump(("unusable", error.message))
    except BaseException as error:  # noqa: BLE001 -- calamine raises its own kinds, and panics
        if reader != "calamine" or read:
            raise
        dump(("unread", f"{type(error).__name__}: {error}"[:300]))
    out.flush()


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4]))
