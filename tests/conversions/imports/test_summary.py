"""The import summary: typed, stored as the same JSON keys, ``{}`` for "not validated yet"."""

from conversions.change_sets.summary import FanOut, ImportSummary, RowError

VALIDATED = {
    "rows": 7,
    "will_change": {"pending->rejected": 2, "pending->success": 1},
    "will_change_total": 3,
    "unchanged": 1,
    "not_found": 1,
    "invalid": 1,
    "conflicting": 2,
    "rejected_rows": 4,
    "fan_out": [{"offer": "Dragon Quest", "offer_id": 7, "click_rows": 1, "conversions": 2}],
    "errors": [{"row": 5, "message": "No conversion has EventId 999999999."}],
    "staged": 4,
    "columns": {"event_id": "EventId", "status": "Status"},
    "reader": "csv",
    "validate_seconds": 0.12,
    "money": {},
    "left_alone": 0,
    "left_alone_examples": [],
    "amounts": 0,
}


def test_a_validated_summary_reads_and_writes_back_the_same_json():
    summary = ImportSummary.from_json(VALIDATED)

    assert summary is not None
    assert summary.fan_out == [
        FanOut(offer="Dragon Quest", offer_id=7, click_rows=1, conversions=2)
    ]
    assert summary.errors == [RowError(row=5, message="No conversion has EventId 999999999.")]
    assert summary.applied is None
    assert summary.to_json() == VALIDATED


def test_confirming_and_applying_add_their_keys():
    summary = ImportSummary.from_json(VALIDATED)
    assert summary is not None

    confirmed = summary.replace(confirmed=True, confirmed_by=None)
    applied = confirmed.replace(
        applied={"pending->success": 1},
        applied_total=1,
        changed_since_preview=0,
        callbacks=1,
        apply_seconds=0.5,
    )

    assert confirmed.to_json() == {**VALIDATED, "confirmed_by": None}
    assert applied.to_json() == {
        **VALIDATED,
        "confirmed_by": None,
        "applied": {"pending->success": 1},
        "applied_total": 1,
        "changed_since_preview": 0,
        "callbacks": 1,
        "apply_seconds": 0.5,
    }
    assert ImportSummary.from_json(applied.to_json()) == applied


def test_an_empty_summary_means_not_validated_and_missing_totals_are_summed():
    assert ImportSummary.from_json({}) is None

    summary = ImportSummary.from_json(
        {"rows": 3, "will_change": {"pending->success": 2}, "not_found": 1, "applied": {"a->b": 2}}
    )

    assert summary is not None
    assert (summary.will_change_total, summary.rejected_rows, summary.applied_total) == (2, 1, 2)
