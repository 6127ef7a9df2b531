"""marts.crm_support: resolution rate with blanks left out of the denominator, by channel, month, segment."""

from __future__ import annotations

import pytest

from martops.crm.marts import customers as C
from martops.crm.marts import support as S
from tests.crm.marts_tables import put, tx

INTERACTIONS = [
    ("i1", "a", "2024-01-05", "phone", True), ("i2", "a", "2024-01-06", "phone", False),
    ("i3", "b", "2024-01-07", "phone", None), ("i4", "b", "2024-02-01", "chat", True),
    ("i5", "ghost", "2024-02-02", "chat", True), ("i6", "b", None, "email", None),
]


def _rows(wh):
    return {(r["dimension"], r["value"]): r for r in wh.to_pyarrow(wh.table(S.TABLE)).to_pylist()}


@pytest.fixture
def built(wh):
    put(wh, "crm.customers", [("a", "A", "FR"), ("b", "B", "FR")])
    put(wh, "crm.transactions", tx([("a", "2024-01-01", 10.0)]))
    put(wh, "crm.interactions", INTERACTIONS)
    C.build(wh)
    S.build(wh)
    return _rows(wh)


def test_resolution_rate_excludes_blanks_from_the_denominator(built):
    phone = built[("channel", "phone")]
    assert (phone["interactions"], phone["resolved"], phone["unresolved"], phone["resolved_unknown"]) == (3, 1, 1, 1)
    assert phone["resolution_rate"] == 0.5
    email = built[("channel", "email")]
    assert (email["resolution_rate"], email["resolved_unknown"]) == (None, 1)
    overall = built[("all", "all")]
    assert (overall["interactions"], overall["resolved"], overall["unresolved"], overall["resolved_unknown"]) == \
        (6, 3, 1, 2)
    assert overall["resolution_rate"] == 0.75


def test_months_and_segments(built):
    assert built[("month", "2024-01")]["interactions"] == 3 and built[("month", "2024-02")]["interactions"] == 2
    assert built[("month", "unknown")]["interactions"] == 1
    # a bought (the only buyer: quintiles of one score 1, so Lost), b did not; ghost is not known
    assert built[("segment", "Lost")]["interactions"] == 2
    assert built[("segment", "No purchase")]["interactions"] == 3
    assert built[("segment", "unknown")]["interactions"] == 1
    assert sum(r["interaction_share"] for k, r in built.items() if k[0] == "channel") == pytest.approx(1.0)


def test_segments_follow_the_golden_customer(wh):
    put(wh, "crm.customers", [("a", "A", "FR"), ("b", "B", "FR")])
    put(wh, "crm.transactions", tx([("a", "2024-01-01", 10.0)]))
    put(wh, "crm.interactions", INTERACTIONS)
    put(wh, "crm.customer_golden_map", [("a", "a", 2, 0.99, False), ("b", "a", 2, 0.99, True)])
    put(wh, "crm.customer_golden", [("a", "A", None, None, None, None, "FR", 2)])
    C.build(wh)
    S.build(wh)
    rows = _rows(wh)
    assert rows[("segment", "Lost")]["interactions"] == 5 and ("segment", "No purchase") not in rows
