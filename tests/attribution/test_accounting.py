"""Hypothesis: for any mix of clean and dirty source rows, every row read is either loaded or
quarantined (never both, never neither), and exactly the rows an independent oracle judges
clean are loaded."""

import collections
import datetime as dt
import json

from hypothesis import HealthCheck, example, given, settings, strategies as st

from martops.attribution import tables as T
from martops.attribution.ingest import ingest
from martops.config import ProjectConfig, QualityConfig
from martops.engine import connect
from martops.ops.quarantine import QUARANTINE

from ..conftest import make_challenge_db

# every row may be dirty here: no fraction limit, and an empty staging table is not an error
LENIENT = ProjectConfig(quality=QualityConfig(max_quarantined_fraction=1.0, row_count_min=0))
SINCE, UNTIL = dt.date(2023, 9, 1), dt.date(2023, 9, 7)
GOOD_DATES, BAD_DATES = ["2023-09-01", "2023-09-05"], ["2023-02-30", "2023-13-01", "yesterday", "", None]
GOOD_TIMES, BAD_TIMES = ["00:00:00", "10:30:00", "23:59:59"], ["25:61:00", "10:60:00", "noon", "", None]
GOOD_FLAGS, BAD_FLAGS = ["0", "1"], ["2", "-1", "yes", "", None]
GOOD_NUMBERS, BAD_NUMBERS = ["0", "1.5", "120"], ["abc", "1,5", "", None]
IDS = ["a", "b", "c", "d", "e", "f", "", None]


def pick(good, bad):
    return st.one_of(st.sampled_from(good), st.sampled_from(bad)) if bad else st.sampled_from(good)


session_rows = st.lists(st.tuples(
    st.sampled_from(IDS), st.sampled_from(["u1", "u2", None]), pick(GOOD_DATES, BAD_DATES),
    pick(GOOD_TIMES, BAD_TIMES), st.sampled_from(["Referral", "Direct Traffic", None]),
    pick(GOOD_FLAGS, BAD_FLAGS), pick(GOOD_FLAGS, BAD_FLAGS), pick(GOOD_FLAGS, BAD_FLAGS),
), min_size=1, max_size=14)
conversion_rows = st.lists(st.tuples(
    st.sampled_from(IDS), st.sampled_from(["u1", "u2", None]), pick(GOOD_DATES, BAD_DATES),
    pick(GOOD_TIMES, BAD_TIMES), pick(GOOD_NUMBERS, BAD_NUMBERS),
), min_size=1, max_size=10)
cost_rows = st.lists(st.tuples(st.sampled_from(IDS + ["ghost"]), st.sampled_from(GOOD_NUMBERS + ["abc", "", None])),
                     max_size=8)


def _valid(value, kind):
    if value is None or value == "":
        return False
    try:
        if kind == "date":
            dt.date.fromisoformat(value)
        elif kind == "time":
            h, m, s = (int(x) for x in value.split(":"))
            assert 0 <= h < 24 and 0 <= m < 60 and 0 <= s < 60
        elif kind == "flag":
            assert value in ("0", "1")
        elif kind == "number":
            float(value)
    except (ValueError, AssertionError):
        return False
    return True


def oracle(rows, kinds, decides=()):
    """Row indexes that must load: every field valid, key unique (exact copies keep the first).

    With `decides` (column indexes a keep-earliest policy may decide on: conversions' date and
    time), copies that differ only there keep the earliest valid row (ties: the first)."""
    by_key = collections.defaultdict(list)
    for i, row in enumerate(rows):
        by_key[row[0]].append(i)
    valid = {i for i, row in enumerate(rows)
             if all(k is None or _valid(v, k) for v, k in zip(row, kinds)) and row[0] not in (None, "")}
    good = set()
    for i in valid:
        same = by_key[rows[i][0]]
        rest = {tuple(v for c, v in enumerate(rows[j]) if c not in decides) for j in same}
        if len(same) == 1 or (len({rows[j] for j in same}) == 1 and same[0] == i):
            good.add(i)
        elif decides and len({rows[j] for j in same}) > 1 and len(rest) == 1:
            winner = min((j for j in same if j in valid), key=lambda j: (*(rows[j][c] for c in decides), j))
            good.add(winner)
    return good


SESSION_KINDS = ("id", "id", "date", "time", "id", "flag", "flag", "flag")
CONV_KINDS = ("id", "id", "date", "time", "number")


def _kinds(kinds):
    return tuple({"id": "text", "date": "date", "time": "time", "flag": "flag", "number": "number"}[k] for k in kinds)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sessions=session_rows, conversions=conversion_rows, costs=cost_rows)
@example(  # a reload: the same conversion at two times keeps the earliest; an unreadable copy loses
    sessions=[("a", "u1", "2023-09-01", "00:00:00", "Referral", "0", "0", "0")],
    conversions=[("a", "u1", "2023-09-05", "10:30:00", "1.5"), ("a", "u1", "2023-09-01", "23:59:59", "1.5"),
                 ("a", "u1", "yesterday", "00:00:00", "1.5"), ("b", "u2", "2023-09-01", "", "0"),
                 ("b", "u2", "2023-09-01", "10:30:00", "0")],
    costs=[],
)
@example(  # found by hypothesis: a NULL session id made `cost.session_id IN (ids)` NULL, losing the orphan cost
    sessions=[("a", "u1", "2023-09-01", "00:00:00", "Referral", "0", "0", "0"),
              (None, "u1", "2023-09-01", "00:00:00", "Referral", "0", "0", "0")],
    conversions=[("a", "u1", "2023-09-01", "00:00:00", "0")], costs=[("b", "0")],
)
def test_rows_read_equal_rows_loaded_plus_rows_quarantined(tmp_path_factory, sessions, conversions, costs):
    folder = tmp_path_factory.mktemp("acct")
    db = make_challenge_db(folder / "dirty.db", sessions, conversions, costs, constraints=False)
    with connect(path=folder / "wh.duckdb") as wh:
        d = ingest(wh, db, SINCE, UNTIL, project=LENIENT)
        q = wh.to_pyarrow(wh.table(QUARANTINE)).to_pylist()
        loaded_sessions = wh.count(T.SESSIONS)
        loaded_conv = wh.count(T.CONVERSIONS)
    text_or = lambda k: None if k == "text" else k  # noqa: E731 - text fields only need to be non-empty keys
    # required text fields: user_id and channel_name must be non-empty
    want_s = {i for i in oracle(sessions, tuple(text_or(k) for k in _kinds(SESSION_KINDS)))
              if sessions[i][1] not in (None, "") and sessions[i][4] not in (None, "")}
    want_c = {i for i in oracle(conversions, tuple(text_or(k) for k in _kinds(CONV_KINDS)), decides=(2, 3))
              if conversions[i][1] not in (None, "")}
    assert loaded_sessions == len(want_s)
    assert loaded_conv == len(want_c)
    by_table = collections.Counter(r["table_name"] for r in q)
    assert by_table["session_sources"] == len(sessions) - len(want_s)
    assert by_table["conversions"] == len(conversions) - len(want_c)
    rows_q = {(r["table_name"], r["row_number"]) for r in q}
    assert len(rows_q) == len(q)  # one quarantine row per rejected source row
    assert {i + 1 for i in range(len(sessions)) if i not in want_s} == {n for t, n in rows_q if t == "session_sources"}
    for r in q:
        assert r["reason"] and json.loads(r["raw_row"])  # every rejection says why and keeps the row
    assert d["read"] == d["loaded"] + d["quarantined"] - d["cost_rows_quarantined"]
    assert d["read"] == len(sessions) + len(conversions)
