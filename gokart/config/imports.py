"""Bulk changes: the status files' limits (refused before work), the change-set engine's
approval thresholds and window, and its apply."""

from __future__ import annotations

from gokart.config import knob

IMPORT_MAX_UPLOAD_BYTES = knob(
    "IMPORT_MAX_UPLOAD_BYTES",
    100 * 1024 * 1024,
    "largest import file (100 MB), refused before it is read or stored",
)
IMPORT_XLSX_MAX_UNCOMPRESSED_BYTES = knob(
    "IMPORT_XLSX_MAX_UNCOMPRESSED_BYTES",
    2 * 1024**3,
    "an XLSX inflating to more than this is refused (zip bomb)",
)
IMPORT_XLSX_MAX_RATIO = knob(
    "IMPORT_XLSX_MAX_RATIO", 100, "largest compression ratio of an XLSX member"
)
IMPORT_XLSX_MAX_SHARED_STRINGS_BYTES = knob(
    "IMPORT_XLSX_MAX_SHARED_STRINGS_BYTES",
    512 * 1024**2,
    "the most shared-string text (uncompressed) the streaming XLSX reader holds",
)
# python-calamine holds the sheet's bounding box: a sheet that needs more is read by the
# format's reference reader.
IMPORT_READER_MAX_BYTES = knob(
    "IMPORT_READER_MAX_BYTES",
    448 * 1024 * 1024,
    "address space of the XLS/XLSX fast reader's process (448 MB)",
)
# CSV: bytes of its lines, XLSX: bytes of its <row> XML (conversions/imports/reading/limits.py).
IMPORT_READER_MAX_ROW_CHARS = knob(
    "IMPORT_READER_MAX_ROW_CHARS",
    1024 * 1024,
    "longest row of an import file, refused while reading",
)
IMPORT_READER_MAX_CELL_CHARS = knob(
    "IMPORT_READER_MAX_CELL_CHARS", 32_767, "longest cell of an import file, refused while reading"
)
IMPORT_CONFIRM_WITHIN_HOURS = knob(
    "IMPORT_CONFIRM_WITHIN_HOURS",
    168,
    "a validated import not confirmed within this time has its checked rows dropped and fails",
)
# Four-eyes approval (conversions.change_sets.approval), whatever the change's source.
IMPORT_APPROVAL_MIN_CONVERSIONS = knob(
    "IMPORT_APPROVAL_MIN_CONVERSIONS",
    10_000,
    "a change of at least this many conversions needs a second person's approval (0: never)",
)
IMPORT_APPROVAL_MIN_PAYOUT = knob(
    "IMPORT_APPROVAL_MIN_PAYOUT",
    "",
    "payout moved per currency that needs approval: "
    "USD:5000,EUR:4500,*:5000, or one amount for all (empty: off)",
)
IMPORT_APPROVAL_WINDOW_HOURS = knob(
    "IMPORT_APPROVAL_WINDOW_HOURS",
    24,
    "a user's own changes confirmed in this many hours count toward both approval thresholds",
)
IMPORT_APPLY_CHUNK_ROWS = knob(
    "IMPORT_APPLY_CHUNK_ROWS",
    100_000,
    "conversions per statement of an import's apply (one transaction whatever the size)",
)
# Uploads are streamed to a temporary file rather than memory above this size.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
