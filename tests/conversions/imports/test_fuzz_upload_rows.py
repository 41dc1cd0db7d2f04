"""Fuzzing a conversion upload's row check (profiles in ``tests/fuzzing.py``): whatever the
cells, a row is blank (``None``) or staged; staged, it is either refused with a message or has
a click id, a UTC time no later than now, and amounts the conversions' columns keep; never an
exception, never a value PostgreSQL text cannot hold."""

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

import tests.fuzzing  # noqa: F401 -- the Hypothesis profile
from conversions.imports import upload_rows as upload_rows_module
from conversions.imports.upload_rows import upload_columns_find, upload_row_checker

HEADER = ["ClickId", "EventID", "UserCompletedAt", "Revenue", "Reward", "TransactionId", "Status"]
NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)
CELL = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            "abc-1",
            "deposit",
            "2026-12-01 10:00:00",
            "2026-12-01T10:00:00+02:00",
            "46000.5",
            "1.5",
            "1,5",
            "-1",
            "1e3",
            "99999999.9999",
            "100000000",
            "Success",
            "pending",
            "=1+1",
            "\x00",
            "\ud800",
            "2099-01-01 00:00:00",
            "12/01/2026",
        ]
    ),
)


@given(st.lists(CELL, min_size=0, max_size=9))
def test_a_row_is_blank_refused_with_a_message_or_staged_whole(cells):
    check = upload_row_checker(upload_columns_find(HEADER), now=NOW)

    row = check(2, cells)

    if row is None:
        assert not any(cell.strip() for cell in cells[: len(HEADER)])
        return
    texts = row[1:9]
    assert all("\x00" not in text and "\ud800" not in text for text in texts)
    if row.error is not None:
        assert row.error.endswith((".", ")")) and row.completed_at is None
        return
    assert row.gk_click_id and row.completed_at.tzinfo is not None
    assert row.completed_at <= NOW
    for amount in (row.revenue, row.payout):
        assert Decimal(0) <= amount < Decimal(10**8)
        assert amount == amount.quantize(Decimal("0.0001"))


ROW = st.tuples(
    st.one_of(st.sampled_from(["abc", " A-1 ", "a" * 65, "a b", ""]), CELL),
    st.one_of(st.sampled_from(["", "deposit", "dé", "e" * 65]), CELL),
    st.one_of(
        st.sampled_from(
            [
                "2026-12-01 10:00:00",
                "2026-12-01T10:00:00Z",
                "2026-02-30 10:00:00",
                "2026-12-07 12:00:01",
                "2026-12-01 24:00:00",
                " 2026-12-01 10:00:00 ",
            ]
        ),
        CELL,
    ),
    st.one_of(st.sampled_from(["12.50", "0", "00000000.0001", "123456789", "1.23456"]), CELL),
    st.one_of(st.sampled_from(["4", "4.0000", ".5", "5."]), CELL),
    st.one_of(st.sampled_from(["", "ORD-1", "'=1", "=1", "x" * 256]), CELL),
    st.one_of(st.sampled_from(["", "Success", "PENDING", "done"]), CELL),
).map(list)


@given(st.one_of(ROW, st.lists(CELL, min_size=len(HEADER), max_size=9)))
def test_the_fast_path_stages_a_row_as_the_full_check_does(cells):
    """The common row's fast path and the full check agree on every row the fast path takes
    (the same values, Decimals equal, the same time)."""
    columns = upload_columns_find(HEADER)
    fast = upload_rows_module._fast_checker(columns, now=NOW)(2, cells)
    if fast is None:
        return
    full = upload_rows_module._full_check(columns, now=NOW)(2, cells)
    assert full is not None and full.error is None
    assert fast == full


@given(
    st.sampled_from(["abc", "A-1_b"]),
    st.sampled_from(["", "deposit"]),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2026, 12, 7, 11)),
    st.decimals(min_value=0, max_value=Decimal("99999999.9999"), places=4),
    st.sampled_from(["", "Success", "rejected"]),
)
def test_plain_rows_take_the_fast_path(click, event, moment, amount, status):
    cells = [click, event, f"{moment:%Y-%m-%d %H:%M:%S}", str(amount), str(amount), "", status]
    row = upload_rows_module._fast_checker(upload_columns_find(HEADER), now=NOW)(2, cells)
    assert row is not None
    assert row.completed_at == moment.replace(microsecond=0, tzinfo=UTC)
    assert row.revenue == amount
