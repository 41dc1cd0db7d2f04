"""What a file really is: its format from its name, checked against its first bytes (never
trusting the extension alone), with a message that says what the file is and how to fix it."""

from __future__ import annotations

from pathlib import Path

from conversions.imports.reading.types import UnusableFile

ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
FORMATS = {".csv": "csv", ".xls": "xls", ".xlsx": "xlsx"}
# An encrypted Office Open XML file is an OLE2 compound file with this stream (its directory
# entry's UTF-16 name), usually within the first sectors.
_ENCRYPTED_MARK = "EncryptionInfo".encode("utf-16-le")
SAVE_AS_UTF8 = (
    'In Excel choose File › Save As › "CSV UTF-8 (Comma delimited) (*.csv)"; in another editor '
    "choose the UTF-8 encoding when saving. Then upload the file again."
)


def file_format_from_name(name: str) -> str:
    """``csv``, ``xls`` or ``xlsx`` from a file name; ``UnusableFile`` for anything else."""
    suffix = Path(name).suffix.lower()
    if suffix not in FORMATS:
        raise UnusableFile(
            f"“{Path(name).name}” is not a CSV, XLS or XLSX file. Upload the status file as "
            ".csv, .xls or .xlsx."
        )
    return FORMATS[suffix]


def file_format_check(head: bytes, file_format: str) -> None:
    """Refuse content that is not what the extension says, from the file's first bytes."""
    if not head:
        raise UnusableFile("The file is empty. Upload a file with a header row and data rows.")
    if file_format == "xlsx" and not head.startswith(ZIP_MAGIC):
        if head.startswith(OLE2_MAGIC) and _ENCRYPTED_MARK in head:
            raise UnusableFile(
                "This .xlsx file is protected by a password (encrypted), so it cannot be read. "
                "Open it in Excel, remove the password (File › Info › Protect Workbook › Encrypt "
                "with Password, empty the box), save it, and upload it again."
            )
        if head.startswith(OLE2_MAGIC):
            found = "an older Excel 97-2003 workbook (.xls), or a password-protected workbook"
            fix = (
                "rename it to .xls, or remove its password, or save it as an Excel Workbook (.xlsx)"
            )
        elif _looks_like_text(head):
            found = "text (CSV)"
            fix = "rename it to .csv, or open it in Excel and save it as an Excel Workbook (.xlsx)"
        else:
            found = "not a spreadsheet"
            fix = "save the sheet as an Excel Workbook (.xlsx) or as CSV UTF-8"
        raise UnusableFile(f"This .xlsx file is really {found}: {fix}, then upload it again.")
    if file_format == "xls" and not head.startswith(OLE2_MAGIC):
        if head.startswith(ZIP_MAGIC):
            found, fix = "an Excel Workbook (.xlsx)", "rename it to .xlsx"
        elif _looks_like_text(head):
            found, fix = "text (CSV or HTML)", "save it from Excel as .xlsx or as CSV UTF-8"
        else:
            found, fix = "not a spreadsheet", "save it from Excel as .xlsx or as CSV UTF-8"
        raise UnusableFile(f"This .xls file is really {found}: {fix}, then upload it again.")
    if file_format == "csv":
        if head.startswith(ZIP_MAGIC) or head.startswith(OLE2_MAGIC):
            kind = "xlsx" if head.startswith(ZIP_MAGIC) else "xls"
            raise UnusableFile(
                f"This .csv file is really an Excel workbook: rename it to .{kind}, or save it "
                "as CSV UTF-8, then upload it again."
            )
        if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head:
            raise UnusableFile(
                "This CSV file is saved as UTF-16 (Excel's “Unicode Text”) or is not text at "
                f"all. {SAVE_AS_UTF8}"
            )


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        # A multi-byte character cut at the end of the sample is still text.
        return error.start >= len(head) - 3
    return True
