"""``audit_trail_assert_intact``: a test's last check that the status changes it made left each
conversion's audit trail an unbroken chain (until ``audit_verify`` exists on this branch)."""

from __future__ import annotations

from collections.abc import Iterable

from conversions.models import Conversion, StatusChange


def audit_trail_assert_intact(conversion_ids: Iterable[int], *, first_sequence: int = 1) -> None:
    """Each conversion's StatusChange rows run ``first_sequence``..n without a gap (factory
    conversions have no row for the postback's version 1: pass 2), each ``old_status`` is the
    previous ``new_status``, and the last ``new_status`` is the conversion's status."""
    ids = list(conversion_ids)
    statuses = dict(Conversion.objects.filter(pk__in=ids).values_list("pk", "status"))
    rows: dict[int, list[tuple[int, str, str]]] = {pk: [] for pk in ids}
    for conversion_id, sequence, old, new in (
        StatusChange.objects.filter(conversion_id__in=ids)
        .order_by("conversion_id", "sequence_number")
        .values_list("conversion_id", "sequence_number", "old_status", "new_status")
    ):
        rows[conversion_id].append((sequence, old, new))
    for conversion_id, chain in rows.items():
        assert chain, f"conversion {conversion_id} has no audit rows"
        sequences = [sequence for sequence, _, _ in chain]
        expected = list(range(first_sequence, first_sequence + len(chain)))
        assert sequences == expected, f"conversion {conversion_id}: sequences {sequences}"
        for (_, _, previous), (sequence, old, _) in zip(chain, chain[1:], strict=False):
            assert old == previous, (
                f"conversion {conversion_id} #{sequence}: {old} after {previous}"
            )
        assert chain[-1][2] == statuses[conversion_id], f"conversion {conversion_id}: last status"
