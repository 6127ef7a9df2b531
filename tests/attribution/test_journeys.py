import datetime as dt

from martops.attribution import tables as T
from martops.attribution.ingest import ingest
from martops.attribution.journeys import build_journeys

SINCE, UNTIL = dt.date(2023, 9, 1), dt.date(2023, 9, 7)


def _journeys(wh):
    rows = wh.to_pyarrow(wh.table(T.JOURNEYS).order_by(["conv_id", "position"])).to_pylist()
    out: dict[str, list[str]] = {}
    for r in rows:
        out.setdefault(r["conv_id"], []).append(r["session_id"])
    return out


def test_journeys_are_sessions_strictly_before_the_conversion(wh, tiny_db):
    ingest(wh, tiny_db, SINCE, UNTIL)
    counts = build_journeys(wh, SINCE, UNTIL, None)
    j = _journeys(wh)
    assert j["c1"] == ["s1", "s2", "s3"]  # s3 at 08:00 precedes c1 at 09:00; s4 is later
    assert j["c2"] == ["s1", "s2", "s3", "s4"]  # the same sessions serve the second conversion
    assert j["c3"] == ["s5", "s6"]  # a shared timestamp is ordered by session_id
    assert "c4" not in j  # no session at all
    assert "c5" not in j  # s8 is at the conversion's very second: not strictly before
    assert counts == {"conversions": 5, "journey_rows": 9, "without_sessions": 2}
    lost = wh.to_pyarrow(wh.table(T.UNATTRIBUTED).order_by("conv_id")).to_pylist()
    assert [r["conv_id"] for r in lost] == ["c4", "c5"]
    assert all(r["reason"] for r in lost)


def test_lookback_days_limits_the_journey(wh, tiny_db):
    ingest(wh, tiny_db, SINCE, UNTIL, lookback_days=2)
    build_journeys(wh, SINCE, UNTIL, 2)
    j = _journeys(wh)
    assert j["c1"] == ["s2", "s3"]  # s1 is three days before c1
    assert j["c2"] == ["s4"]  # s3 is 2 days 2 hours before c2


def test_positions_and_sizes(wh, tiny_db):
    ingest(wh, tiny_db, SINCE, UNTIL)
    build_journeys(wh, SINCE, UNTIL, None)
    rows = wh.to_pyarrow(wh.table(T.JOURNEYS)).to_pylist()
    for r in rows:
        assert 1 <= r["position"] <= r["n_sessions"]
    assert {(r["conv_id"], r["n_sessions"]) for r in rows} == {("c1", 3), ("c2", 4), ("c3", 2)}


def test_non_converting_sessions_stay_available(wh, tiny_db):
    ingest(wh, tiny_db, SINCE, UNTIL)
    build_journeys(wh, SINCE, UNTIL, None)
    ids = set(wh.to_pyarrow(wh.table(T.NON_CONVERTING)).column("session_id").to_pylist())
    assert ids == {"s7", "s8", "s9"}
