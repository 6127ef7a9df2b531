"""Channel names that differ only in case or whitespace are one channel, spelled as the delivery
spells it most often; `last_non_direct` knows the direct channel in any such spelling."""

import csv

import pytest

from martops.attribution import tables as T
from martops.engine import connect

from ..cli_runner import run_cli
from ..conftest import make_challenge_db

SESSIONS = [
    ("s1", "u1", "2023-09-01", "08:00:00", "Paid Search Brand", 1, 0, 0),
    ("s2", "u1", "2023-09-01", "09:00:00", "Direct traffic ", 0, 1, 0),   # direct, odd spelling, last
    ("s3", "u2", "2023-09-01", "08:00:00", "Direct Traffic", 0, 0, 0),
    ("s4", "u2", "2023-09-01", "09:00:00", "paid search brand", 1, 1, 0),
    ("s5", "u3", "2023-09-01", "08:00:00", "Direct Traffic", 0, 0, 0),
    ("s6", "u3", "2023-09-01", "08:30:00", "Paid Search Brand", 1, 1, 0),
]
CONVERSIONS = [("c1", "u1", "2023-09-01", "10:00:00", 100.0), ("c2", "u2", "2023-09-01", "10:00:00", 50.0),
               ("c3", "u3", "2023-09-01", "10:00:00", 10.0)]
COSTS = [("s1", 3.0), ("s4", 1.0), ("s6", 2.0)]


@pytest.mark.parametrize("direct_setting", [None, "  direct TRAFFIC"])
def test_direct_in_another_spelling_does_not_take_the_credit(capsys, tmp_path, direct_setting):
    db = make_challenge_db(tmp_path / "c.db", SESSIONS, CONVERSIONS, COSTS)
    args = []
    if direct_setting:
        (tmp_path / "m.yml").write_text(f"attribution:\n  direct_channel: '{direct_setting}'\n")
        args = ["--config", tmp_path / "m.yml"]
    wh, out = tmp_path / "w.duckdb", tmp_path / "out.csv"
    res = run_cli(capsys, "attribution", "run", "--db", db, "--since", "2023-09-01", "--until", "2023-09-01",
                  "--model", "last_non_direct", "--warehouse", wh, "--export", out, *args)
    assert res.code == 0, res.err
    with connect(path=wh) as w:
        credits = {(r["conv_id"], r["session_id"]): r["ihc"] for r in
                   w.to_pyarrow(w.table(T.CUSTOMER_JOURNEY)).to_pylist() if r["ihc"] > 0}
        names = sorted({r["channel_name"] for r in w.to_pyarrow(w.table(T.SESSIONS)).to_pylist()})
        log = w.to_pyarrow(w.table("ops.cleaning_log")).to_pylist()
    # c1's last session is `Direct traffic `: the credit goes to Paid Search Brand before it
    assert credits == {("c1", "s1"): 1.0, ("c2", "s4"): 1.0, ("c3", "s6"): 1.0}
    assert names == ["Direct Traffic", "Paid Search Brand"]
    rows = list(csv.DictReader(out.open()))
    assert [(r["channel_name"], r["date"], r["cost"], r["ihc"]) for r in rows] == [
        ("Direct Traffic", "2023-09-01", "0", "0"), ("Paid Search Brand", "2023-09-01", "6", "3")]
    [entry] = [e for e in log if "respelled" in e["rule"]]
    assert entry["domain"] == "attribution" and entry["rows"] == 2
    assert "'Direct traffic ' -> 'Direct Traffic' (1)" in entry["example"]
    assert "'paid search brand' -> 'Paid Search Brand' (1)" in entry["example"]


def test_ranges_of_one_delivery_spell_a_channel_the_same_way(capsys, tmp_path):
    """The most used spelling is counted over the whole delivery, not the loaded range."""
    sessions = SESSIONS + [(f"x{i}", "u9", "2023-09-05", "08:00:00", "paid search brand", 0, 0, 0) for i in range(3)]
    db = make_challenge_db(tmp_path / "c.db", sessions, CONVERSIONS, COSTS)
    wh = tmp_path / "w.duckdb"
    res = run_cli(capsys, "attribution", "ingest", "--db", db, "--since", "2023-09-01", "--until", "2023-09-01",
                  "--warehouse", wh)
    assert res.code == 0, res.err
    with connect(path=wh) as w:
        names = sorted({r["channel_name"] for r in w.to_pyarrow(w.table(T.SESSIONS)).to_pylist()})
    assert names == ["Direct Traffic", "paid search brand"]  # 4 lower-case uses in the delivery beat 2


def test_the_cleaning_command_shows_the_respellings(capsys, tmp_path):
    db = make_challenge_db(tmp_path / "c.db", SESSIONS, CONVERSIONS, COSTS)
    wh = tmp_path / "w.duckdb"
    res = run_cli(capsys, "attribution", "ingest", "--db", db, "--since", "2023-09-01", "--until", "2023-09-01",
                  "--warehouse", wh)
    assert res.code == 0 and "2 session row(s) of the delivery spell a channel another way" in " ".join(res.out.split())
    shown = run_cli(capsys, "attribution", "cleaning", "--warehouse", wh)
    assert shown.code == 0 and "Direct traffic" in shown.out and "respelled" in shown.out
