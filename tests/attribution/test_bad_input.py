"""Bad input fails with a message naming file, table, column, row and what was expected;
nothing already in the warehouse is lost."""

import datetime as dt
import sqlite3

import pytest

from martops.attribution import models, tables as T
from martops.attribution.credit import attribute
from martops.attribution.ingest import ingest
from martops.attribution.journeys import build_journeys
from martops.config import AttributionConfig
from martops.errors import CheckFailed

from ..cli_runner import run_cli
from ..conftest import TINY_CONVERSIONS, TINY_COSTS, TINY_SESSIONS, make_challenge_db

RANGE = ["--since", "2023-09-01", "--until", "2023-09-07"]


def _with(rows, index, column, value):
    rows = [list(r) for r in rows]
    rows[index][column] = value
    return [tuple(r) for r in rows]


@pytest.mark.parametrize("table,index,column,value,expected", [
    ("sessions", 2, 3, "25:61:00", "session_sources.event_time row 3: '25:61:00' is not a time HH:MM:SS"),
    ("sessions", 1, 2, "2023-02-30", "session_sources.event_date row 2: '2023-02-30' is not a date YYYY-MM-DD"),
    ("conversions", 0, 4, "abc", "conversions.revenue row 1: 'abc' is not a number"),
    ("costs", 0, 1, "abc", "session_costs.cost row 1: 'abc' is not a number or NULL"),
])
def test_bad_value_names_table_column_row_and_keeps_prior_data(capsys, tmp_path, table, index, column, value, expected):
    good = make_challenge_db(tmp_path / "good.db", TINY_SESSIONS, TINY_CONVERSIONS, TINY_COSTS)
    wh = tmp_path / "wh.duckdb"
    assert run_cli(capsys, "attribution", "run", "--db", good, *RANGE, "--warehouse", wh).code == 0
    rows = {"sessions": TINY_SESSIONS, "conversions": TINY_CONVERSIONS, "costs": TINY_COSTS}
    rows[table] = _with(rows[table], index, column, value)
    bad = make_challenge_db(tmp_path / "bad.db", rows["sessions"], rows["conversions"], rows["costs"])
    res = run_cli(capsys, "attribution", "ingest", "--db", bad, *RANGE, "--warehouse", wh)
    assert res.code == 1
    assert expected in " ".join(res.err.split())
    assert "Traceback" not in res.err
    from martops.engine import connect
    with connect(path=wh) as w:  # the earlier good load is intact
        assert w.count(T.SESSIONS) == len(TINY_SESSIONS)
        assert w.count(T.CONVERSIONS) == len(TINY_CONVERSIONS)


def test_missing_table_lists_what_exists(capsys, tmp_path):
    db = tmp_path / "partial.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE conversions (conv_id text)")
    con.commit()
    res = run_cli(capsys, "attribution", "ingest", "--db", db, *RANGE, "--warehouse", tmp_path / "w.duckdb")
    msg = " ".join(res.err.split())
    assert res.code == 1 and "table 'session_sources' is missing" in msg and "['conversions']" in msg


def test_missing_column_is_named(capsys, tmp_path):
    db = tmp_path / "cols.db"
    con = sqlite3.connect(db)
    con.executescript("CREATE TABLE session_sources (session_id text, user_id text);"
                      "CREATE TABLE conversions (conv_id text, user_id text, conv_date text, conv_time text, revenue real);"
                      "CREATE TABLE session_costs (session_id text, cost real);")
    res = run_cli(capsys, "attribution", "ingest", "--db", db, *RANGE, "--warehouse", tmp_path / "w.duckdb")
    assert res.code == 1 and "lacks column(s) ['event_date'" in " ".join(res.err.split())


@pytest.mark.parametrize("content,expected", [
    (b"this is not sqlite at all" * 100, "is not a readable SQLite database"),
    (b"", "table 'session_sources' is missing"),  # an empty file is a valid, empty SQLite db
])
def test_not_a_sqlite_file(capsys, tmp_path, content, expected):
    db = tmp_path / "junk.db"
    db.write_bytes(content)
    res = run_cli(capsys, "attribution", "ingest", "--db", db, *RANGE, "--warehouse", tmp_path / "w.duckdb")
    msg = "".join(res.err.split())
    assert res.code == 1
    assert "".join(expected.split()) in msg and "".join(str(db).split()) in msg


def test_missing_file_and_bad_dates(capsys, tmp_path):
    res = run_cli(capsys, "attribution", "ingest", "--db", tmp_path / "nope.db", *RANGE, "--warehouse", tmp_path / "w.duckdb")
    assert res.code == 1 and "does not exist" in res.err
    res = run_cli(capsys, "attribution", "journeys", "--since", "2023-13-01", "--until", "2023-09-07",
                  "--warehouse", tmp_path / "w.duckdb")
    assert res.code == 1 and "--since '2023-13-01' is not a date" in res.err
    res = run_cli(capsys, "attribution", "journeys", "--since", "2023-09-08", "--until", "2023-09-07",
                  "--warehouse", tmp_path / "w.duckdb")
    assert res.code == 1 and "is after --until" in res.err


def test_unknown_model(capsys, tiny_db, tmp_path):
    res = run_cli(capsys, "attribution", "run", "--db", tiny_db, *RANGE, "--model", "magic",
                  "--warehouse", tmp_path / "w.duckdb")
    assert res.code == 1 and "choose one of" in res.err


def test_a_model_breaking_sums_to_one_fails_and_keeps_previous_credits(wh, tiny_db, monkeypatch):
    since, until = dt.date(2023, 9, 1), dt.date(2023, 9, 7)
    ingest(wh, tiny_db, since, until)
    build_journeys(wh, since, until, None)
    cfg = AttributionConfig()
    attribute(wh, since, until, "linear", cfg)
    before = wh.to_pyarrow(wh.table(T.CUSTOMER_JOURNEY).order_by(["conv_id", "session_id"])).to_pylist()
    monkeypatch.setitem(models.MODELS, "linear", lambda j, c: 2.0 / j.n_sessions.cast("float64"))
    with pytest.raises(CheckFailed) as err:
        attribute(wh, since, until, "linear", cfg)
    msg = str(err.value)
    assert "sums_to_1(ihc by model, conv_id)" in msg and "3 failing" in msg and "example" in msg
    after = wh.to_pyarrow(wh.table(T.CUSTOMER_JOURNEY).order_by(["conv_id", "session_id"])).to_pylist()
    assert after == before


def test_a_model_with_negative_credit_fails(wh, tiny_db, monkeypatch):
    since, until = dt.date(2023, 9, 1), dt.date(2023, 9, 7)
    ingest(wh, tiny_db, since, until)
    build_journeys(wh, since, until, None)
    bad = lambda j, c: (j.position == 1).cast("float64") * 2 - (j.position == j.n_sessions).cast("float64")  # noqa: E731
    monkeypatch.setitem(models.MODELS, "last_touch", bad)
    with pytest.raises(CheckFailed, match="non_negative"):
        attribute(wh, since, until, "last_touch", AttributionConfig())
    assert not wh.exists(T.CUSTOMER_JOURNEY) or wh.count(T.CUSTOMER_JOURNEY) == 0
