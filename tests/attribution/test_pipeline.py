"""The attribution pipeline end to end through the CLI on a hand-checked database."""

import csv
import sqlite3
from pathlib import Path

import pytest

from martops.attribution import tables as T
from martops.engine import connect

from ..cli_runner import run_cli

RANGE = ["--since", "2023-09-01", "--until", "2023-09-07"]


def run_pipeline(capsys, db, tmp_path, *extra, name="wh", model="linear"):
    wh = tmp_path / f"{name}.duckdb"
    out = tmp_path / f"{name}.csv"
    res = run_cli(capsys, "attribution", "run", "--db", db, *extra, "--model", model,
                  "--warehouse", wh, "--export", out)
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
    assert float(psb["ihc_revenue"]) == pytest.approx(100 / 3 + 12.5, abs=1e-6)
    assert float(psb["CPO"]) == pytest.approx(2.0 / (1 / 3 + 1 / 4), abs=1e-6)
    assert float(psb["ROAS"]) == pytest.approx((100 / 3 + 12.5) / 2.0, abs=1e-6)
    direct = got[("Direct Traffic", "2023-09-01")]  # credited but free: CPO 0, ROAS empty
    assert direct["CPO"] == "0" and direct["ROAS"] == ""
    referral = got[("Referral", "2023-09-05")]  # neither cost nor credit: both empty, never inf/NaN
    assert (referral["cost"], referral["ihc"], referral["CPO"], referral["ROAS"]) == ("0", "0", "", "")
    null_cost = got[("Paid Search Brand", "2023-09-02")]  # s9's cost is NULL
    assert null_cost["cost"] == "0"
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
    con.execute("INSERT INTO attribution_customer_journey VALUES ('other-range', 'x', 1.0)")
    con.commit()
    run_pipeline(capsys, tiny_db, tmp_path, "--since", "2023-09-01", "--until", "2023-09-03", "--write-back")
    rows = con.execute("SELECT conv_id, session_id, ihc FROM attribution_customer_journey ORDER BY 1, 2").fetchall()
    assert ("c1", "kept?", 0.0) not in rows  # c1 is in the range: replaced
    assert ("other-range", "x", 1.0) in rows  # a conversion outside the range: untouched
    sums = dict(con.execute("SELECT conv_id, sum(ihc) FROM attribution_customer_journey "
                            "WHERE conv_id LIKE 'c%' GROUP BY 1").fetchall())
    assert sums == pytest.approx({"c1": 1.0, "c3": 1.0})


def test_write_back_accepts_the_challenge_ddl_with_its_python_header(capsys, tiny_db, tmp_path):
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


def test_write_back_with_the_real_shipped_ddl(capsys, tiny_db, tmp_path, ihc_dataset):
    ddl = ihc_dataset / "challenge_db_create.sql"
    with pytest.raises(sqlite3.Error):  # as shipped, sqlite3 itself rejects it
        sqlite3.connect(":memory:").executescript(ddl.read_text())
    run_pipeline(capsys, tiny_db, tmp_path, *RANGE, "--write-back", "--ddl", ddl)
    con = sqlite3.connect(tiny_db)
    assert con.execute("SELECT count(*) FROM attribution_customer_journey").fetchone()[0] == 9


def test_a_failed_write_back_leaves_the_sqlite_file_as_it_was(capsys, tiny_db, tmp_path):
    con = sqlite3.connect(tiny_db)
    # a user's own channel_reporting that rejects every row: the second insert of write-back fails
    con.executescript(
        "CREATE TABLE attribution_customer_journey (conv_id text NOT NULL, session_id text NOT NULL,"
        " ihc real NOT NULL, PRIMARY KEY(conv_id, session_id));"
        "INSERT INTO attribution_customer_journey VALUES ('c1', 'old', 1.0);"
        "CREATE TABLE channel_reporting (channel_name text NOT NULL, date text NOT NULL, cost real NOT NULL,"
        " ihc real NOT NULL, ihc_revenue real NOT NULL CHECK (ihc_revenue < 0), PRIMARY KEY(channel_name, date));")
    con.close()
    res = run_cli(capsys, "attribution", "run", "--db", tiny_db, *RANGE, "--model", "linear",
                  "--warehouse", tmp_path / "w.duckdb", "--write-back")
    assert res.code == 1 and "rolled back (the file is as it was)" in " ".join(res.err.split())
    assert "Traceback" not in res.err
    con = sqlite3.connect(tiny_db)
    assert con.execute("SELECT * FROM attribution_customer_journey").fetchall() == [("c1", "old", 1.0)]
    assert con.execute("SELECT count(*) FROM channel_reporting").fetchone() == (0,)
