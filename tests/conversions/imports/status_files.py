"""Status files for the import tests: CSV, XLSX (openpyxl) and XLS (xlwt) from rows of cells."""

import csv
import io

import openpyxl
import xlwt

HEADER = ["gk_click_id", "EventId", "Status", "Reason"]


def csv_bytes(rows, *, delimiter=",", bom=False, encoding="utf-8"):

    text = io.StringIO()
    csv.writer(text, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    data = text.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


def xlsx_bytes(rows):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def xls_bytes(rows):
    workbook = xlwt.Workbook()
    sheet = workbook.add_sheet("Statuses")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if isinstance(value, str) and value.startswith("="):
                try:
                    formula = xlwt.Formula(value[1:])  # as openpyxl takes "=…"
                except Exception:  # noqa: BLE001 -- xlwt cannot parse it: Excel would not either
                    sheet.write(r, c, value)
                else:
                    sheet.write(r, c, formula)
            elif value not in ("", None):
                sheet.write(r, c, value)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


WRITERS = {"csv": csv_bytes, "xlsx": xlsx_bytes, "xls": xls_bytes}


def rejected_rows(job):
    """The job's report of rejected rows, as CSV rows (its header first)."""
    with job.error_report.open("rb") as report:
        return list(csv.reader(io.StringIO(report.read().decode("utf-8-sig"))))


def status_file(tmp_path, rows, file_format="csv", name=None, **options):
    """Write ``rows`` (the header included) as a file of that format; returns its path."""
    path = tmp_path / (name or f"statuses.{file_format}")
    path.write_bytes(WRITERS[file_format](rows, **options))
    return path
