"""``file_rows``: the rows of a status file's first sheet, by the reader of its format."""

from __future__ import annotations

from pathlib import Path

from conversions.imports.reading.csv_reader import csv_rows
from conversions.imports.reading.process import rows_in_process
from conversions.imports.reading.types import Progress, Rows, UnusableFile


def file_rows(path: Path | str, file_format: str, *, progress: Progress | None = None) -> Rows:
    """Stream the rows of the file's first sheet. ``progress(done, total)`` is called now and
    then with how far the reading is (in bytes of the file or of the sheet, or in rows)."""
    if file_format == "csv":
        return csv_rows(path, progress=progress)
    if file_format in ("xlsx", "xls"):
        return rows_in_process(path, file_format, progress=progress)
    raise UnusableFile(f"Unknown file format {file_format!r}.")
