"""Fuzzing the row check of a status file with amounts (profiles in ``tests/fuzzing.py``): the
common row's fast path stages exactly what the full check stages, and a staged row is refused
with a message or has amounts the conversions' columns keep; never an exception."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

import tests.fuzzing  # noqa: F401 -- the Hypothesis profile
from conversions.imports import rows as rows_module
from conversions.imports.rows import columns_find, row_checker

HEADER = ["gk_click_id", "EventId", "Status", "Reason", "Payout", "Revenue"]
CELL = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        [
            "",
            "abc-1",
            "123",
            "1.0",
            "Success",
            "pending",
            "1.5",
            "1,5",
            "-1",
            "1e3",
            "1.",
            ".5",
            "99999999.9999",
            "100000000",
            "0.00001",
            "=1+1",
            "'=1",
            "\x00",
            "\ud800",
            "$5",
        ]
    ),
)
ROW = st.tuples(
    st.one_of(st.sampled_from(["abc", " A-1 ", "a" * 65, "a b", ""]), CELL),
    st.one_of(st.sampled_from(["", "17", "1" * 19, "1.0"]), CELL),
    st.one_of(st.sampled_from(["", "Success", "REJECTED", "done"]), CELL),
    st.one_of(st.sampled_from(["", "statement", "=x", "r" * 1001]), CELL),
    st.one_of(st.sampled_from(["", "4", "4.0000", "00000000.0001", "12345678.12345"]), CELL),
    st.one_of(st.sampled_from(["", "0", "6.01", " 7 "]), CELL),
).map(list)


@given(st.one_of(ROW, st.lists(CELL, min_size=0, max_size=8)))
def test_the_fast_path_stages_a_row_as_the_full_check_does(cells):
    columns = columns_find(HEADER)

    fast = row_checker(columns)(2, cells)
    full = rows_module._full_checker(columns)(2, cells)

    assert fast == full
    if full is None or full[7] is not None:  # blank, or refused with its message
        assert full is None or full[7].endswith((".", ")"))
        return
    assert full[6] is not None or full[13] is not None or full[14] is not None
    for amount in full[13:15]:
        if amount is not None:
            assert Decimal(0) <= amount < Decimal(10**8)
            assert amount == amount.quantize(Decimal("0.0001"))


@given(
    st.sampled_from(["abc", "A-1_b", ""]),
    st.integers(min_value=1, max_value=10**12),
    st.sampled_from(["", "Success", "pending"]),
    st.decimals(min_value=0, max_value=Decimal("99999999.9999"), places=4),
)
def test_plain_rows_take_the_fast_path(click, event, status, amount):
    cells = [click, str(event), status, "", str(amount), ""]
    full = rows_module._full_checker(columns_find(HEADER))

    def no_full_check(row_number, cells):
        raise AssertionError(f"row {cells} left the fast path")

    rows_module._full_checker, saved = (lambda columns: no_full_check), rows_module._full_checker
    try:
        row = row_checker(columns_find(HEADER))(2, cells)
    finally:
        rows_module._full_checker = saved
    assert row == full(2, cells)
    assert row[13] == amount
