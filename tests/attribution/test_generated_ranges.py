"""Range properties on generated data that looks like the real thing (2,000 conversions)."""

import sqlite3

import pytest

from martops.attribution import tables as T
from martops.demo.attribution import generate_challenge_db

from ..cli_runner import run_cli
from .test_pipeline import table_rows


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("gen") / "challenge.db"
    generate_challenge_db(path, conversions=2000, seed=11)
    return path


@pytest.mark.parametrize("model,split", [("ihc", "2023-09-02"), ("position_based", "2023-09-05"),
                                         ("last_non_direct", "2023-08-30")])
def test_any_split_of_the_range_gives_the_same_tables(capsys, demo_db, tmp_path, model, split):
    import datetime as dt

    day_before = (dt.date.fromisoformat(split) - dt.timedelta(days=1)).isoformat()
    parts = [("2023-08-29", day_before), (split, "2023-09-07")]
    dbs = {}
    for name, ranges in {"split": parts[::-1], "all": [("2023-08-29", "2023-09-07")]}.items():
        db = tmp_path / f"{name}.db"
        db.write_bytes(demo_db.read_bytes())
        dbs[name] = db
        for since, until in ranges:  # the split runs B first, then A: order must not matter
            res = run_cli(capsys, "attribution", "run", "--db", db, "--since", since, "--until", until,
                          "--model", model, "--warehouse", tmp_path / f"{name}.duckdb",
                          "--export", tmp_path / f"{name}.csv", "--write-back", "--force")
            assert res.code == 0, res.err
    for table, order in [(T.CUSTOMER_JOURNEY, ["conv_id", "session_id"]), (T.CHANNEL_REPORTING, ["channel_name", "date"])]:
        assert table_rows(tmp_path / "split.duckdb", table, order) == table_rows(tmp_path / "all.duckdb", table, order)
    assert (tmp_path / "split.csv").read_bytes() == (tmp_path / "all.csv").read_bytes()
    q = "SELECT * FROM channel_reporting ORDER BY 1, 2"
    assert sqlite3.connect(dbs["split"]).execute(q).fetchall() == sqlite3.connect(dbs["all"]).execute(q).fetchall()
    n = sqlite3.connect(dbs["all"]).execute(
        "SELECT count(*), count(DISTINCT conv_id), abs(sum(ihc) - count(DISTINCT conv_id)) < 1e-6 "
        "FROM attribution_customer_journey").fetchone()
    assert n[0] > n[1] > 1800 and n[2] == 1


def test_rerun_is_byte_identical_on_generated_data(capsys, demo_db, tmp_path):
    db = tmp_path / "c.db"
    db.write_bytes(demo_db.read_bytes())
    outs = []
    for i in range(2):
        res = run_cli(capsys, "attribution", "run", "--db", db, "--since", "2023-09-01", "--until", "2023-09-07",
                      "--model", "time_decay", "--warehouse", tmp_path / "w.duckdb",
                      "--export", tmp_path / f"out{i}.csv")
        assert res.code == 0, res.err
        outs.append((tmp_path / f"out{i}.csv").read_bytes())
    assert outs[0] == outs[1] and len(outs[0].splitlines()) > 100
