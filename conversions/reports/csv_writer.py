"""The one CSV writer of the back office's downloads: UTF-8 text with a byte order mark (so
that Excel reads it as UTF-8; the import accepts it), CRLF line ends, datetimes as
``YYYY-MM-DD HH:MM:SS``, written in chunks of rows so that a download streams."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

CHUNK_ROWS = 2000


def csv_chunks(
    header: Sequence[str], rows: Iterable[Sequence[Any]] = (), *, chunk_rows: int = CHUNK_ROWS
) -> Iterator[str]:
    """The CSV text of ``header`` then ``rows``, the byte order mark first, a piece every
    ``chunk_rows`` rows (and the last, possibly empty, piece at the end)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(header)
    for count, row in enumerate(rows, start=1):
        writer.writerow(
            [value.isoformat(sep=" ") if isinstance(value, datetime) else value for value in row]
        )
        if count % chunk_rows == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
