"""Bad input fails with a message naming file, table, column, row and what was expected;
nothing already in the warehouse is lost."""

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from martops.attribution import models, tables as T
from martops.attribution.credit import attribute
from martops.attribution.ingest import ingest
from martops.attribution.journeys import build_journeys
from martops.config import AttributionConfig
from martops.engine import connect
from martops.errors import CheckFailed

import martops

from ..cli_runner import run_cli
from ..conftest import TINY_CONVERSIONS, TINY_COSTS, TINY_SESSIONS, make_challenge_db

RANGE = ["--since", "2023-09-01", "--until", "2023-09-07"]


def _with(rows, index, column, value):
    rows = [list(r) for r in rows]
    rows[index][column] = value
    return [tuple(r) for r in rows]


def _quarantine(wh_path):
    with connect(path=wh_path) as w:
        if not w.exists("ops.quarantine"):
            return []
        return w.to_pyarrow(w.table("ops.quarantine").order_by(["table_name", "row_number"])).to_pylist()


def _counts(wh_path):
    with connect(path=wh_path) as w:
        return w.count(T.SESSIONS), w.count(T.CONVERSIONS)


@pytest.mark.parametrize("table,index,column,value,source_table,col_name,reason", [
    ("sessions", 2, 3, "25:61:00", "session_sources", "event_time", "event_time '25:61:00' is not a time HH:MM:SS"),
    ("sessions", 1, 2, "2023-02-30", "session_sources", "event_date", "event_date '2023-02-30' is not a date (YYYY-MM-DD"),
    ("sessions", 0, 5, 2, "session_sources", "holder_engagement", "holder_engagement '2' is not 0 or 1"),
    ("conversions", 0, 4, "abc", "conversions", "revenue", "revenue 'abc' is not a number"),
    ("costs", 0, 1, "abc", "session_costs", "cost", "cost 'abc' is not a number or empty"),
])
def test_a_bad_value_is_quarantined_with_its_reason_and_the_rest_loads(
        capsys, tmp_path, table, index, column, value, source_table, col_name, reason):
    good = make_challenge_db(tmp_path / "good.db", TINY_SESSIONS, TINY_CONVERSIONS, TINY_COSTS)
    wh = tmp_path / "wh.duckdb"
    assert run_cli(capsys, "attribution", "run", "--db", good, *RANGE, "--warehouse", wh).code == 0
    rows = {"sessions": TINY_SESSIONS, "conversions": TINY_CONVERSIONS, "costs": TINY_COSTS}
    rows[table] = _with(rows[table], index, column, value)
    bad = make_challenge_db(tmp_path / "bad.db", rows["sessions"], rows["conversions"], rows["costs"])
    res = run_cli(capsys, "attribution", "ingest", "--db", bad, *RANGE, "--warehouse", wh)
    assert res.code == 0, res.err
    out = " ".join(res.out.split())
    assert "quarantined" in out and "martops quarantine" in out
    q = [r for r in _quarantine(wh) if r["source"].endswith("bad.db") and r["table_name"] == source_table
         and r["column_name"] == col_name]
    assert len(q) == 1
    assert q[0]["row_number"] == index + 1 and reason in q[0]["reason"] and q[0]["raw_value"] == str(value)
    assert json.loads(q[0]["raw_row"])[col_name] == str(value)  # the whole raw row is kept
    n_sessions, n_conv = _counts(wh)
    assert n_sessions == len(TINY_SESSIONS) - (table == "sessions")
    assert n_conv == len(TINY_CONVERSIONS) - (table == "conversions")
    # the CLI shows it
    shown = run_cli(capsys, "quarantine", "--table", source_table, "--warehouse", wh)
    assert shown.code == 0 and col_name in shown.out
    # re-running the same range keeps one copy; fixing the source removes the quarantine row
    assert run_cli(capsys, "attribution", "ingest", "--db", bad, *RANGE, "--warehouse", wh).code == 0
    assert len([r for r in _quarantine(wh) if r["source"].endswith("bad.db") and r["column_name"] == col_name
                and r["table_name"] == source_table]) == 1
    bad.unlink()
    make_challenge_db(bad, TINY_SESSIONS, TINY_CONVERSIONS, TINY_COSTS)
    assert run_cli(capsys, "attribution", "ingest", "--db", bad, *RANGE, "--warehouse", wh).code == 0
    assert [r["reason"] for r in _quarantine(wh) if r["source"].endswith("bad.db")] == [
        "session_id 'ghost' names no session in session_sources"]
    assert _counts(wh) == (len(TINY_SESSIONS), len(TINY_CONVERSIONS))


def test_null_keys_and_duplicates_in_an_unconstrained_source(capsys, tmp_path):
    sessions = TINY_SESSIONS + [
        TINY_SESSIONS[0],                                                            # exact copy of s1
        ("s2", "u1", "2023-09-01", "09:05:00", "Referral", 0, 0, 0),                  # conflicts with s2
        (None, "u9", "2023-09-01", "09:00:00", "Referral", 0, 0, 0),                  # NULL key
        ("s10", None, "2023-09-01", "09:00:00", "Referral", 0, 0, 0),                 # NULL required
    ]
    conversions = TINY_CONVERSIONS + [("", "u1", "2023-09-02", "10:00:00", 5.0)]
    db = make_challenge_db(tmp_path / "loose.db", sessions, conversions, TINY_COSTS, constraints=False)
    wh = tmp_path / "wh.duckdb"
    res = run_cli(capsys, "attribution", "run", "--db", db, *RANGE, "--warehouse", wh)
    assert res.code == 0, res.err
    reasons = {(r["table_name"], r["row_number"]): r["reason"] for r in _quarantine(wh)}
    assert reasons[("session_sources", 10)] == "exact duplicate of row 1"
    assert "conflicting duplicates: 2 rows share session_id 's2'" in reasons[("session_sources", 2)]
    assert "conflicting duplicates" in reasons[("session_sources", 11)]
    assert reasons[("session_sources", 12)].startswith("session_id is NULL or empty (a key)")
    assert reasons[("session_sources", 13)] == "user_id is NULL or empty (required)"
    assert reasons[("conversions", 6)].startswith("conv_id is NULL or empty (a key)")
    # s1 loads once; both s2 are out; 9 + 4 rows read = 7 loaded + 6 quarantined
    with connect(path=wh) as w:
        ids = sorted(r["session_id"] for r in w.to_pyarrow(w.table(T.SESSIONS)).to_pylist())
    assert ids == ["s1", "s3", "s4", "s5", "s6", "s7", "s8", "s9"]
    run = [r for r in _run_rows(wh) if r["step"] == "attribution.ingest"][0]
    assert run["rows_in"] == 13 + 6 and run["rows_out"] == 8 + 5


def _run_rows(wh_path):
    with connect(path=wh_path) as w:
        return w.to_pyarrow(w.table("ops.runs")).to_pylist()


def test_too_many_bad_rows_is_a_format_change_and_loads_nothing(capsys, tmp_path):
    good = make_challenge_db(tmp_path / "good.db", TINY_SESSIONS, TINY_CONVERSIONS, TINY_COSTS)
    wh = tmp_path / "wh.duckdb"
    assert run_cli(capsys, "attribution", "ingest", "--db", good, *RANGE, "--warehouse", wh).code == 0
    before = _counts(wh)
    day_first = [(s[0], s[1], "/".join(reversed(s[2].split("-"))), *s[3:]) for s in TINY_SESSIONS]  # 30/08/2023
    bad = make_challenge_db(tmp_path / "day_first.db", day_first, TINY_CONVERSIONS, TINY_COSTS[:-1])
    cfg = tmp_path / "martops.yml"
    cfg.write_text("quality:\n  fraction_applies_from_rows: 5\n")
    res = run_cli(capsys, "attribution", "ingest", "--db", bad, *RANGE, "--warehouse", wh, "--config", cfg)
    msg = " ".join(res.err.split())
    assert res.code == 1
    assert "9 of 9 session_sources rows (100.0%) could not be loaded" in msg and "nothing was loaded" in msg
    assert "event_date '30/08/2023' is not a date" in msg
    assert _counts(wh) == before


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
    with pytest.raises(CheckFailed, match=r"range\(ihc >= 0\)"):
        attribute(wh, since, until, "last_touch", AttributionConfig())
    assert not wh.exists(T.CUSTOMER_JOURNEY) or wh.count(T.CUSTOMER_JOURNEY) == 0


def test_a_range_with_no_conversions_says_which_dates_the_source_has(capsys, tiny_db, tmp_path):
    october = ["--since", "2023-10-01", "--until", "2023-10-07"]
    said = (f"error: no conversions dated 2023-10-01..2023-10-07 in {tiny_db} (its conversions are dated "
            "2023-09-02..2023-09-04); nothing was loaded")
    wh = tmp_path / "wh.duckdb"
    res = run_cli(capsys, "attribution", "run", "--db", tiny_db, *october, "-w", wh)
    assert res.code == 1 and res.err.strip().splitlines() == [
        said.replace("error: ", "error: attribution.ingest failed: ")
        + "; not run: attribution.journeys, attribution.attribute, attribution.report"]
    assert run_cli(capsys, "attribution", "run", "--db", tiny_db, *RANGE, "-w", wh).code == 0
    res = run_cli(capsys, "attribution", "ingest", "--db", tiny_db, *october, "-w", wh)  # was exit 0 here
    assert res.code == 1 and res.err.strip().splitlines() == [said]
    with connect(path=wh) as w:
        assert w.count(T.CONVERSIONS) == len(TINY_CONVERSIONS)  # the September load is untouched


def test_a_range_whose_conversions_were_all_quarantined_keeps_the_check_message(capsys, tmp_path):
    db = make_challenge_db(tmp_path / "bad.db", TINY_SESSIONS, [_with(TINY_CONVERSIONS, 0, 4, "abc")[0]], TINY_COSTS,
                           constraints=False)
    res = run_cli(capsys, "attribution", "ingest", "--db", db, "--since", "2023-09-02", "--until", "2023-09-02",
                  "-w", tmp_path / "wh.duckdb")
    assert res.code == 1 and "no conversions dated" not in res.err and "row_count" in res.err, res.err


@pytest.mark.parametrize("table, column, key, rowid", [
    ("session_sources", "channel_name", "session_id = 's2'", 2),
    ("session_sources", "event_date", "session_id = 's3'", 3),
    ("session_sources", "event_time", "session_id = 's1'", 1),
    ("conversions", "conv_date", "rowid = 2", 2),
    ("conversions", "conv_time", "rowid = 1", 1),
    ("session_costs", "cost", "rowid = 1", 1),
])
@pytest.mark.parametrize("stored", ["CAST(? AS TEXT)", "?"], ids=["text", "blob"])
def test_a_text_that_is_not_utf8_is_a_one_line_error_not_a_hang(tmp_path, stored, table, column, key, rowid):
    """Was: DuckDB's trim (the channel spelling query, the date, time and number parsers) looped
    forever at 100% CPU on b'Caf\\xe9'. A child process with a timeout, so a hang fails the test
    instead of stopping the suite."""
    db = make_challenge_db(tmp_path / "latin1.db", TINY_SESSIONS, TINY_CONVERSIONS, TINY_COSTS, constraints=False)
    con = sqlite3.connect(db)
    con.execute(f"UPDATE {table} SET {column} = {stored} WHERE {key}", [b"Caf\xe9"])
    con.commit()
    con.close()
    src = str(Path(martops.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    res = subprocess.run([sys.executable, "-m", "martops", "attribution", "run", "--db", str(db), *RANGE,
                          "--warehouse", str(tmp_path / "wh.duckdb")],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    assert res.stderr.strip().splitlines() == [
        f"error: attribution.ingest failed: {db}: table '{table}', rowid {rowid}, column '{column}': "
        "text b'Caf\\xe9' is not UTF-8; re-export the table as UTF-8 text; nothing was loaded; "
        "not run: attribution.journeys, attribution.attribute, attribution.report"], res.stderr
