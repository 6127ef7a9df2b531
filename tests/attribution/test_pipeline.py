"""The attribution pipeline end to end through the CLI on a hand-checked database."""

import csv
import sqlite3
from pathlib import Path

import pytest

from martops.attribution import tables as T
from martops.engine import connect

from ..cli_runner import run_cli
from ..conftest import TINY_CONVERSIONS, TINY_COSTS, TINY_SESSIONS, make_challenge_db

RANGE = ["--since", "2023-09-01", "--until", "2023-09-07"]


def run_pipeline(capsys, db, tmp_path, *extra, name="wh", model="linear"):
    wh = tmp_path / f"{name}.duckdb"
    out = tmp_path / f"{name}.csv"
    res = run_cli(capsys, "attribution", "run", "--db", db, *extra, "--model", model,
                  "--warehouse", wh, "--export", out, "--force")  # a re-run replaces its own export
    assert res.code == 0, res.err + res.out
    return wh, out, res


def table_rows(path: Path, table: str, order: list[str]) -> list[tuple]:
    with connect(path=path) as wh:
        t = wh.table(table).order_by(order)
        return [tuple(r.values()) for r in wh.to_pyarrow(t).to_pylist()]


def test_channel_reporting_and_export_by_hand(capsys, tiny_db, tmp_path):
    wh, out, res = run_pipeline(capsys, tiny_db, tmp_path, *RANGE)
    rows = list(csv.DictReader(out.open()))
    assert [r["date"] for r in rows] == sorted(r["date"] for r in rows)
    got = {(r["channel_name"], r["date"]): r for r in rows}
    # every (channel, date) with sessions from the earliest journey session (Aug 30) to --until
    assert len(rows) == 9
    psb = got[("Paid Search Brand", "2023-08-30")]  # s1: in c1 (1/3 of 100) and c2 (1/4 of 50)
    assert float(psb["cost"]) == 2.0
    assert float(psb["ihc"]) == pytest.approx(1 / 3 + 1 / 4, abs=1e-6)
    assert psb["ihc_revenue"] == "45.83" and psb["CPO"] == "3.43"  # money in cents: 100/3 + 12.5, 2 / (7/12)
    assert float(psb["ROAS"]) == pytest.approx((100 / 3 + 12.5) / 2.0, abs=1e-6)
    direct = got[("Direct Traffic", "2023-09-01")]  # credited but free: CPO 0, ROAS empty
    assert direct["CPO"] == "0" and direct["ROAS"] == ""
    referral = got[("Referral", "2023-09-05")]  # neither cost nor credit: both empty, never inf/NaN
    assert (referral["cost"], referral["ihc"], referral["CPO"], referral["ROAS"]) == ("0", "0", "", "")
    # s9's cost row is empty: a paid session at an unknown price, not free. The only session of
    # that (channel, date), so the cost is empty (NULL), and so are CPO and ROAS; never 0.
    null_cost = got[("Paid Search Brand", "2023-09-02")]
    assert (null_cost["cost"], null_cost["CPO"], null_cost["ROAS"], null_cost["unknown_cost_sessions"]) == ("", "", "", "1")
    assert psb["unknown_cost_sessions"] == direct["unknown_cost_sessions"] == "0"
    assert "1 session(s) in channel_reporting have an unknown cost" in " ".join(res.out.split())
    assert "inf" not in out.read_text() and "nan" not in out.read_text().lower()
    assert "2 conversion(s) had no earlier session" in res.out
    assert "1 source row(s) could not be loaded and were quarantined" in " ".join(res.out.split())


def test_same_command_twice_is_byte_identical_and_idempotent(capsys, tiny_db, tmp_path):
    wh, out, _ = run_pipeline(capsys, tiny_db, tmp_path, *RANGE, model="time_decay")
    first = out.read_bytes()
    before = table_rows(wh, T.CUSTOMER_JOURNEY, ["conv_id", "session_id"])
    run_pipeline(capsys, tiny_db, tmp_path, *RANGE, model="time_decay")
    assert out.read_bytes() == first
    assert table_rows(wh, T.CUSTOMER_JOURNEY, ["conv_id", "session_id"]) == before


@pytest.mark.parametrize("model", ["ihc", "linear"])
def test_range_a_then_b_equals_a_and_b_together(capsys, tiny_db, tmp_path, model):
    split_db = tmp_path / "split.db"
    split_db.write_bytes(tiny_db.read_bytes())
    for since, until in [("2023-09-01", "2023-09-03"), ("2023-09-04", "2023-09-07")]:
        wh_split, out_split, _ = run_pipeline(capsys, split_db, tmp_path, "--since", since, "--until", until,
                                              "--write-back", name="split", model=model)
    wh_all, out_all, _ = run_pipeline(capsys, tiny_db, tmp_path, *RANGE, "--write-back", name="all", model=model)
    for table, order in [(T.CUSTOMER_JOURNEY, ["conv_id", "session_id"]),
                         (T.CHANNEL_REPORTING, ["channel_name", "date"]),
                         (T.JOURNEYS, ["conv_id", "position"])]:
        assert table_rows(wh_split, table, order) == table_rows(wh_all, table, order), table
    assert out_split.read_bytes() == out_all.read_bytes()
    for table in ["attribution_customer_journey", "channel_reporting"]:
        q = f"SELECT * FROM {table} ORDER BY 1, 2"
        assert sqlite3.connect(split_db).execute(q).fetchall() == sqlite3.connect(tiny_db).execute(q).fetchall()


def test_write_back_replaces_only_the_range(capsys, tiny_db, tmp_path):
    run_pipeline(capsys, tiny_db, tmp_path, "--since", "2023-09-01", "--until", "2023-09-03", "--write-back")
    con = sqlite3.connect(tiny_db)
    con.execute("INSERT INTO attribution_customer_journey VALUES ('c1', 'kept?', 0.0)")
    con.commit()
    run_pipeline(capsys, tiny_db, tmp_path, "--since", "2023-09-01", "--until", "2023-09-03", "--write-back")
    rows = con.execute("SELECT conv_id, session_id, ihc FROM attribution_customer_journey ORDER BY 1, 2").fetchall()
    assert ("c1", "kept?", 0.0) not in rows  # c1 is in the range: replaced
    sums = dict(con.execute("SELECT conv_id, sum(ihc) FROM attribution_customer_journey GROUP BY 1").fetchall())
    assert sums == pytest.approx({"c1": 1.0, "c3": 1.0})


def test_write_back_refuses_credits_this_warehouse_cannot_place(capsys, tiny_db, tmp_path):
    """A credit in the file from elsewhere: channel_reporting cannot agree with it, so nothing changes."""
    run_pipeline(capsys, tiny_db, tmp_path, "--since", "2023-09-01", "--until", "2023-09-03", "--write-back")
    con = sqlite3.connect(tiny_db)
    con.execute("INSERT INTO attribution_customer_journey VALUES ('other-range', 'x', 1.0)")
    con.commit()
    before = [con.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
              for t in ("attribution_customer_journey", "channel_reporting")]
    res = run_cli(capsys, "attribution", "write-back", "--db", tiny_db, "--since", "2023-09-01", "--until",
                  "2023-09-03", "--model", "linear", "--warehouse", tmp_path / "wh.duckdb")
    msg = " ".join(res.err.split())
    assert res.code == 1 and "this warehouse has no journey for (e.g. conv_id 'other-range')" in msg
    assert "Nothing was written" in msg and "Traceback" not in res.err
    assert [con.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
            for t in ("attribution_customer_journey", "channel_reporting")] == before


def _sqlite_report_agrees_with_its_credits(db: Path) -> dict:
    """The file's channel_reporting ihc per (channel, date) recomputed from its own credits."""
    con = sqlite3.connect(db)
    from_credits = dict(((ch, d), ihc) for ch, d, ihc in con.execute(
        "SELECT s.channel_name, s.event_date, sum(a.ihc) FROM attribution_customer_journey a "
        "JOIN session_sources s USING (session_id) GROUP BY 1, 2"))
    report = {(ch, d): ihc for ch, d, ihc in con.execute("SELECT channel_name, date, ihc FROM channel_reporting")}
    assert {k: v for k, v in report.items() if v} == pytest.approx({k: v for k, v in from_credits.items() if v})
    return report


@pytest.mark.parametrize("b_with", ["same", "other_model", "fresh_warehouse"])
def test_write_back_of_range_b_keeps_range_a(capsys, tiny_db, tmp_path, b_with):
    """A then B with --write-back: both ranges' credits and report rows; A again changes nothing.

    Before, B's write-back replaced the file's whole report span with the rows of B's model (or B's
    warehouse), so A's report rows vanished while A's credits stayed."""
    fresh_warehouse = b_with == "fresh_warehouse"
    a, b = ["--since", "2023-09-01", "--until", "2023-09-03"], ["--since", "2023-09-04", "--until", "2023-09-07"]
    run_pipeline(capsys, tiny_db, tmp_path, *a, "--write-back", name="a")
    after_a = _sqlite_report_agrees_with_its_credits(tiny_db)
    # B into the same warehouse, or into a warehouse of its own
    extra = {"name": "b" if fresh_warehouse else "a"}
    if fresh_warehouse:  # a warehouse that never saw range A cannot place A's credits: refused, file unchanged
        wh = tmp_path / "b.duckdb"
        res = run_cli(capsys, "attribution", "run", "--db", tiny_db, *b, "--model", "linear", "--warehouse", wh,
                      "--write-back")
        assert res.code == 1 and "no journey for" in res.err
        assert _sqlite_report_agrees_with_its_credits(tiny_db) == after_a
        run_pipeline(capsys, tiny_db, tmp_path, *a, name="b")  # now it knows A
    if b_with == "other_model":  # A's linear credits stay: one report of two models is refused, file unchanged
        res = run_cli(capsys, "attribution", "run", "--db", tiny_db, *b, "--model", "first_touch", "--warehouse",
                      tmp_path / "a.duckdb", "--write-back")
        msg = " ".join(res.err.split())
        assert res.code == 1 and "2 conversion(s) by linear (e.g. conv_id 'c1')" in msg and "Nothing was written" in msg
        assert _sqlite_report_agrees_with_its_credits(tiny_db) == after_a
    run_pipeline(capsys, tiny_db, tmp_path, *b, "--write-back", **extra)
    con = sqlite3.connect(tiny_db)
    credited = {c for (c,) in con.execute("SELECT DISTINCT conv_id FROM attribution_customer_journey")}
    assert credited == {"c1", "c2", "c3"}  # A's c1, c3 and B's c2 (c5 has no earlier session)
    after_b = _sqlite_report_agrees_with_its_credits(tiny_db)
    assert sum(after_b.values()) == pytest.approx(3.0) and sum(after_a.values()) == pytest.approx(2.0)
    files = [con.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
             for t in ("attribution_customer_journey", "channel_reporting")]
    run_pipeline(capsys, tiny_db, tmp_path, *a, "--write-back", **extra)
    assert [con.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
            for t in ("attribution_customer_journey", "channel_reporting")] == files


def test_write_back_of_the_whole_span_switches_model_and_unrecorded_credits_are_refused(capsys, tiny_db, tmp_path):
    """The file's tables have no model column: `martops_credit_models` says who wrote each credit."""
    a, whole = ["--since", "2023-09-01", "--until", "2023-09-03"], ["--since", "2023-09-01", "--until", "2023-09-07"]
    run_pipeline(capsys, tiny_db, tmp_path, *a, "--write-back")
    run_pipeline(capsys, tiny_db, tmp_path, *whole, "--write-back", model="first_touch")
    con = sqlite3.connect(tiny_db)
    assert dict(con.execute("SELECT conv_id, model FROM martops_credit_models").fetchall()) == {
        "c1": "first_touch", "c2": "first_touch", "c3": "first_touch"}
    _sqlite_report_agrees_with_its_credits(tiny_db)
    con.execute("DELETE FROM martops_credit_models WHERE conv_id = 'c1'")  # as if written by another tool
    con.commit()
    res = run_cli(capsys, "attribution", "write-back", "--db", tiny_db, "--since", "2023-09-04", "--until",
                  "2023-09-07", "--model", "first_touch", "--warehouse", tmp_path / "wh.duckdb")
    msg = " ".join(res.err.split())
    assert res.code == 1 and "1 conversion(s) by (none recorded) (e.g. conv_id 'c1')" in msg, msg


def test_write_back_and_report_of_a_model_never_attributed_are_refused_and_the_file_is_kept(capsys, tiny_db, tmp_path):
    """Found by a new-user trial: the ranges' max of no row came back as NaT, not None, so the
    write-back emptied the file's credits and exited 0."""
    whole = ["--since", "2023-09-01", "--until", "2023-09-07"]
    run_pipeline(capsys, tiny_db, tmp_path, *whole, "--write-back")
    con = sqlite3.connect(tiny_db)
    before = sorted(con.execute("SELECT * FROM attribution_customer_journey").fetchall())
    assert before
    for step in ("write-back", "report"):
        res = run_cli(capsys, "attribution", step, "--db", tiny_db, *whole, "--model", "last_touch",
                      "--warehouse", tmp_path / "wh.duckdb")
        msg = " ".join(res.err.split())
        assert res.code == 1 and "nothing attributed with model 'last_touch' yet" in msg, (step, msg)
    assert sorted(con.execute("SELECT * FROM attribution_customer_journey").fetchall()) == before


@pytest.fixture
def priced_db(tmp_path) -> Path:
    """The tiny database with every cost known (s9's empty cost filled): the challenge's own DDL
    declares channel_reporting.cost NOT NULL."""
    costs = [(sid, 0.7 if cost is None else cost) for sid, cost in TINY_COSTS]
    return make_challenge_db(tmp_path / "tiny.db", TINY_SESSIONS, TINY_CONVERSIONS, costs)


def test_write_back_accepts_the_challenge_ddl_with_its_python_header(capsys, priced_db, tmp_path):
    tiny_db = priced_db
    ddl = tmp_path / "challenge_db_create.sql"
    ddl.write_text('# -*- coding: utf-8 -*-\n"""\nCreated on Wed Aug 11 12:50:03 2021\n"""\n\n'
                   "CREATE TABLE attribution_customer_journey (conv_id text NOT NULL, session_id text NOT NULL,"
                   " ihc real NOT NULL, PRIMARY KEY(conv_id,session_id));\n"
                   "CREATE TABLE channel_reporting (channel_name text NOT NULL, date text NOT NULL, cost real NOT NULL,"
                   " ihc real NOT NULL, ihc_revenue real NOT NULL, PRIMARY KEY(channel_name,date));\n")
    run_pipeline(capsys, tiny_db, tmp_path, *RANGE, "--write-back", "--ddl", ddl)
    # tables already exist now: a DDL without IF NOT EXISTS must still work on the second run
    run_pipeline(capsys, tiny_db, tmp_path, *RANGE, "--write-back", "--ddl", ddl)
    n = sqlite3.connect(tiny_db).execute("SELECT count(*) FROM channel_reporting").fetchone()[0]
    assert n == 9


def test_write_back_with_the_real_shipped_ddl(capsys, priced_db, tmp_path, ihc_dataset):
    ddl = ihc_dataset / "challenge_db_create.sql"
    with pytest.raises(sqlite3.Error):  # as shipped, sqlite3 itself rejects it
        sqlite3.connect(":memory:").executescript(ddl.read_text())
    run_pipeline(capsys, priced_db, tmp_path, *RANGE, "--write-back", "--ddl", ddl)
    con = sqlite3.connect(priced_db)
    assert con.execute("SELECT count(*) FROM attribution_customer_journey").fetchone()[0] == 9


def test_an_unknown_cost_is_written_as_null_or_refused_by_a_not_null_cost(capsys, tiny_db, tmp_path, ihc_dataset):
    """s9's cost row is empty: NULL in the built-in schema; the shipped DDL's NOT NULL cost cannot
    hold it, and writing 0 would be a wrong number, so that write-back fails and changes nothing."""
    copy = tmp_path / "copy.db"
    copy.write_bytes(tiny_db.read_bytes())
    run_pipeline(capsys, tiny_db, tmp_path, *RANGE, "--write-back")
    row = sqlite3.connect(tiny_db).execute(
        "SELECT cost, ihc FROM channel_reporting WHERE channel_name = 'Paid Search Brand' AND date = '2023-09-02'")
    assert row.fetchall() == [(None, 0.0)]
    res = run_cli(capsys, "attribution", "run", "--db", copy, *RANGE, "--model", "linear", "--warehouse",
                  tmp_path / "w2.duckdb", "--write-back", "--ddl", ihc_dataset / "challenge_db_create.sql")
    msg = " ".join(res.err.split())
    assert res.code == 1 and "channel_reporting.cost is declared NOT NULL, but 1 (channel, date) row(s)" in msg
    assert "'Paid Search Brand' on 2023-09-02" in msg and "Nothing was written" in msg
    con = sqlite3.connect(copy)
    assert con.execute("SELECT count(*) FROM attribution_customer_journey").fetchone() == (0,)


def test_a_failed_write_back_leaves_the_sqlite_file_as_it_was(capsys, tiny_db, tmp_path):
    con = sqlite3.connect(tiny_db)
    # a user's own channel_reporting that rejects every row: the second insert of write-back fails
    con.executescript(
        "CREATE TABLE attribution_customer_journey (conv_id text NOT NULL, session_id text NOT NULL,"
        " ihc real NOT NULL, PRIMARY KEY(conv_id, session_id));"
        "INSERT INTO attribution_customer_journey VALUES ('c1', 'old', 1.0);"
        "CREATE TABLE channel_reporting (channel_name text NOT NULL, date text NOT NULL, cost real,"
        " ihc real NOT NULL, ihc_revenue real NOT NULL CHECK (ihc_revenue < 0), PRIMARY KEY(channel_name, date));")
    con.close()
    res = run_cli(capsys, "attribution", "run", "--db", tiny_db, *RANGE, "--model", "linear",
                  "--warehouse", tmp_path / "w.duckdb", "--write-back")
    assert res.code == 1 and "rolled back (the file is as it was)" in " ".join(res.err.split())
    assert "Traceback" not in res.err
    con = sqlite3.connect(tiny_db)
    assert con.execute("SELECT * FROM attribution_customer_journey").fetchall() == [("c1", "old", 1.0)]
    assert con.execute("SELECT count(*) FROM channel_reporting").fetchone() == (0,)
