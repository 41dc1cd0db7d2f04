"""A check the status-changing tests end with, until ``manage.py audit_verify`` exists: every
conversion's audit rows form an unbroken chain."""

from conversions.models import Conversion, StatusChange


def audit_trail_assert_unbroken() -> None:
    """Each conversion's StatusChange rows are numbered 1..n, each old status is the previous
    new status (the first is ''), and the last new status is the conversion's status."""
    chains: dict[int, list[tuple[int, str, str]]] = {}
    for conversion_id, number, old, new in StatusChange.objects.order_by(
        "conversion_id", "sequence_number"
    ).values_list("conversion_id", "sequence_number", "old_status", "new_status"):
        chains.setdefault(conversion_id, []).append((number, old, new))
    for conversion_id, status, version in Conversion.objects.values_list(
        "pk", "status", "status_version"
    ):
        chain = chains.get(conversion_id, [])
        assert [number for number, _, _ in chain] == list(range(1, len(chain) + 1)), chain
        assert len(chain) == version, (conversion_id, chain, version)
        previous = ""
        for _, old, new in chain:
            assert old == previous, (conversion_id, chain)
            previous = new
        assert previous == status, (conversion_id, chain, status)
