"""Fuzzing the XLSX and XLS readers and the validation behind them (profiles in
``tests/fuzzing.py``).

Invariants: a workbook is either refused with a message or read whole, with the summary's
counts adding up to its rows; the fast reader (python-calamine) and the reference reader give
the same rows for any workbook both accept; hand-mutated sheet XML (row numbers, cell
references, shared-string indexes, cut or flipped bytes) never reaches an unexpected error.
"""

import random
import zipfile

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

import tests.fuzzing  # noqa: F401 -- the Hypothesis profile
from conversions.imports.reading.calamine import calamine_rows
from conversions.imports.reading.types import UnusableFile
from conversions.imports.reading.xlsx import xlsx_rows
from conversions.models import ImportJob
from tests.conversions.imports.raw_xlsx import xlsx_raw
from tests.conversions.imports.status_files import HEADER, xls_bytes, xlsx_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("import_media_root")]

# What a spreadsheet cell may hold (XML cannot hold most control characters: openpyxl refuses
# them, so they come in through the hand-written sheets below).
CELL = st.one_of(
    st.text(alphabet=st.sampled_from(list("ab1 ,\"<&é€='") + ["\U0001f600"]), max_size=10),
    st.integers(-(10**6), 10**12),
    st.sampled_from(["Success", "pending", "REJECTED", "1_0", "+5", "١٢", "1e3", "0x10"]),
)
ROWS = st.lists(st.lists(CELL, min_size=1, max_size=5), max_size=8)


def written(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def validated_or_refused(import_validated, path):
    """The job, or ``None`` when the upload itself was refused (with a message)."""
    try:
        job = import_validated(path)
    except ValidationError as error:
        assert error.messages and error.messages[0]
        return None
    assert job.state in (ImportJob.State.VALIDATED, ImportJob.State.INVALID), job.error_message
    assert "unexpected" not in job.error_message
    if job.summary:
        # No conversion exists: each row read is invalid or not found; none lost.
        assert job.summary["rows"] == job.summary["invalid"] + job.summary["not_found"]
    else:
        assert job.error_message
    return job


def data_rows(rows):
    """Rows with something in one of the four status columns (blank ones are skipped)."""
    return sum(1 for row in rows if any(str(cell).strip() for cell in row[:4] if cell != ""))


@given(rows=ROWS, file_format=st.sampled_from(["xlsx", "xls"]))
def test_a_workbook_is_counted_row_by_row_or_refused(
    import_validated, tmp_path_factory, rows, file_format
):
    writer = xlsx_bytes if file_format == "xlsx" else xls_bytes
    path = written(tmp_path_factory.mktemp("book"), f"fuzz.{file_format}", writer([HEADER, *rows]))

    job = validated_or_refused(import_validated, path)

    if job is not None and job.summary:
        assert job.summary["rows"] == data_rows(rows)


@given(rows=ROWS)
def test_both_xlsx_readers_give_the_same_rows(tmp_path_factory, rows):
    from conversions.imports.reading.xlsx import xlsx_for_values_reader

    path = written(tmp_path_factory.mktemp("book"), "fuzz.xlsx", xlsx_bytes([HEADER, *rows]))
    if not xlsx_for_values_reader(path, max_cells=10**6):
        return  # (formulas: calamine is not given the file)

    def trimmed(reader):
        out = []
        for number, cells in reader(path):
            while cells and cells[-1] == "":
                cells = cells[:-1]
            if cells:
                out.append((number, cells))
        return out

    assert trimmed(calamine_rows) == trimmed(xlsx_rows)


# Hand-written sheets: the row and cell references and the shared-string indexes an attacker
# (or a broken writer) picks.
REFERENCE = st.one_of(
    st.integers(0, 1_048_580).map(str),
    st.sampled_from(["", "-1", "abc", "3000000000", "1_0", "\u0663", " 2", "2.0"]),
)
SHARED_INDEX = st.one_of(st.integers(-2, 5).map(str), st.sampled_from(["abc", "1_0", "", " 1"]))
COLUMN = st.sampled_from(["A", "B", "C", "D", "E", "AA", "XFD", "ZZZZ", "", "b"])


@st.composite
def sheets(draw):
    rows = [
        '<row r="1">'
        + "".join(f'<c r="{c}1" t="s"><v>{i}</v></c>' for i, c in enumerate("ABCD"))
        + "</row>"
    ]
    for _ in range(draw(st.integers(0, 6))):
        cells = []
        for _ in range(draw(st.integers(0, 5))):
            reference = draw(COLUMN) + draw(REFERENCE)
            kind = draw(st.sampled_from(["s", "n", "inlineStr", "f"]))
            if kind == "s":
                cells.append(f'<c r="{reference}" t="s"><v>{draw(SHARED_INDEX)}</v></c>')
            elif kind == "n":
                cells.append(f'<c r="{reference}"><v>{draw(st.integers(0, 10**6))}</v></c>')
            elif kind == "f":
                cells.append(f'<c r="{reference}"><f>1+1</f><v>2</v></c>')
            else:
                cells.append(f'<c r="{reference}" t="inlineStr"><is><t>Success</t></is></c>')
        attribute = f' r="{draw(REFERENCE)}"' if draw(st.booleans()) else ""
        rows.append(f"<row{attribute}>{''.join(cells)}</row>")
    return "".join(rows)


@given(sheet=sheets())
def test_a_hand_written_sheet_never_reaches_an_unexpected_error(
    import_validated, tmp_path_factory, sheet
):
    data = xlsx_raw(sheet, [*HEADER, "Success", "12"])
    path = written(tmp_path_factory.mktemp("book"), "raw.xlsx", data)

    validated_or_refused(import_validated, path)


@given(sheet=sheets())
def test_both_xlsx_readers_agree_on_a_hand_written_sheet(tmp_path_factory, sheet):
    """Either the reference reader refuses it, or calamine is not given it (the check in
    ``xlsx_for_values_reader`` says no) or fails on it (the reference reader takes over), or
    both read the same rows."""
    from conversions.imports.reading.xlsx import xlsx_for_values_reader

    path = written(
        tmp_path_factory.mktemp("book"), "raw.xlsx", xlsx_raw(sheet, [*HEADER, "Success", "12"])
    )
    try:
        reference = [(n, c) for n, c in xlsx_rows(path)]
    except UnusableFile:
        reference = None
    if not xlsx_for_values_reader(path, max_cells=10**6):
        return
    assert reference is not None, "calamine would read a sheet the reference reader refuses"

    def trimmed(rows):
        out = []
        for number, cells in rows:
            cells = [c for c in cells]
            while cells and cells[-1] == "":
                cells.pop()
            if cells:
                out.append((number, cells))
        return out

    try:
        fast = list(calamine_rows(path))
    except Exception:  # noqa: BLE001 -- calamine refuses it: the reference reader takes over
        return
    assert trimmed(fast) == trimmed(reference)


@given(
    file_format=st.sampled_from(["xlsx", "xls"]),
    seed=st.integers(0, 2**32),
    flips=st.integers(1, 8),
)
def test_a_workbook_with_flipped_bytes_is_read_or_refused(
    import_validated, tmp_path_factory, file_format, seed, flips
):
    rows = [HEADER, *(["", n, "Success", f"reason {n}"] for n in range(1, 30))]
    data = bytearray((xlsx_bytes if file_format == "xlsx" else xls_bytes)(rows))
    if file_format == "xlsx":
        data = bytearray(_sheet_flipped(bytes(data), random.Random(seed), flips))
    else:
        chance = random.Random(seed)
        for _ in range(flips):
            data[chance.randrange(len(data))] = chance.randrange(256)
    path = written(tmp_path_factory.mktemp("book"), f"flipped.{file_format}", bytes(data))

    validated_or_refused(import_validated, path)


def _sheet_flipped(data, chance, flips):
    """The XLSX with bytes of its sheet XML changed (a flip in the zip itself is only a CRC
    error): the XML parsers get what no writer makes."""
    import io

    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            part = bytearray(source.read(item.filename))
            if item.filename.startswith("xl/worksheets/") or item.filename.endswith("Strings.xml"):
                for _ in range(flips):
                    part[chance.randrange(len(part))] = chance.choice(b'<>"/=0123456789 \x00\xff&r')
            target.writestr(item.filename, bytes(part))
    return out.getvalue()
