"""Duplicate conversions (a page reload) and refunds: what loads, what is quarantined, and why."""

import csv

import pytest

from martops.attribution import tables as T
from martops.engine import connect

from ..cli_runner import run_cli
from ..conftest import make_challenge_db

RANGE = ["--since", "2023-09-01", "--until", "2023-09-07"]
SESSIONS = [
    ("s1", "u1", "2023-09-01", "08:00:00", "Paid Search", 1, 1, 0),
    ("s2", "u2", "2023-09-01", "08:00:00", "Referral", 1, 1, 0),
]
COSTS = [("s1", 10.0)]


def _run(capsys, tmp_path, conversions, yml="", *extra):
    db = make_challenge_db(tmp_path / "c.db", SESSIONS, conversions, COSTS, constraints=False)
    (tmp_path / "m.yml").write_text(yml or "{}\n")
    wh, out = tmp_path / "w.duckdb", tmp_path / "out.csv"
    res = run_cli(capsys, "attribution", "run", "--db", db, *RANGE, "--model", "linear", "--warehouse", wh,
                  "--export", out, "--config", tmp_path / "m.yml", *extra)
    assert res.code == 0, res.err
    with connect(path=wh) as w:
        loaded = w.to_pyarrow(w.table(T.CONVERSIONS).order_by("conv_id")).to_pylist()
        q = w.to_pyarrow(w.table("ops.quarantine").order_by("row_number")).to_pylist() if w.exists("ops.quarantine") else []
        runs = w.to_pyarrow(w.table("ops.runs")).to_pylist()
        log = w.to_pyarrow(w.table("ops.cleaning_log")).to_pylist() if w.exists("ops.cleaning_log") else []
    ingest = next(r for r in runs if r["step"] == "attribution.ingest")
    assert ingest["rows_in"] == len(SESSIONS) + len(conversions)  # read
    quarantined = [r for r in q if r["table_name"] != "session_costs"]
    assert ingest["rows_out"] + len(quarantined) == ingest["rows_in"]  # read = loaded + quarantined
    return loaded, {r["row_number"]: r["reason"] for r in q if r["table_name"] == "conversions"}, res, log, out


RELOAD = [
    ("c1", "u1", "2023-09-01", "09:00:07", 100.0),   # row 1: the reload, seven seconds later
    ("c2", "u2", "2023-09-01", "09:00:00", 40.0),
    ("c1", "u1", "2023-09-01", "09:00:00", 100.0),   # row 3: the first firing
]


@pytest.mark.parametrize("policy,kept_time,reason", [
    (None, "09:00:00", {1: "duplicate conv_id 'c1': kept the earliest (row 3; attribution.duplicate_conversions: earliest)"}),
    ("latest", "09:00:07", {3: "duplicate conv_id 'c1': kept the latest (row 1; attribution.duplicate_conversions: latest)"}),
    ("reject", None, {n: "duplicate conv_id 'c1': 2 rows differ only in conv_date, conv_time; all rejected "
                         "(attribution.duplicate_conversions: reject)" for n in (1, 3)}),
])
def test_a_reloaded_conversion_keeps_one_row_by_policy(capsys, tmp_path, policy, kept_time, reason):
    yml = f"attribution:\n  duplicate_conversions: {policy}\n" if policy else ""
    loaded, reasons, res, log, _ = _run(capsys, tmp_path, RELOAD, yml)
    c1 = [r for r in loaded if r["conv_id"] == "c1"]
    assert [r["conv_ts"].strftime("%H:%M:%S") for r in c1] == ([kept_time] if kept_time else [])
    assert reasons == reason
    counted = [e for e in log if e["file"] == "conversions" and "duplicate" in e["rule"]]
    assert [e["rows"] for e in counted] == [1 if kept_time else 2]


def test_a_reload_across_midnight_is_one_conversion_in_either_range(capsys, tmp_path):
    conversions = [("c1", "u1", "2023-09-02", "00:00:03", 100.0), ("c1", "u1", "2023-09-01", "23:59:58", 100.0)]
    loaded, reasons, *_ = _run(capsys, tmp_path, conversions)
    assert [(r["conv_id"], str(r["conv_date"])) for r in loaded] == [("c1", "2023-09-01")]
    assert reasons == {1: "duplicate conv_id 'c1': kept the earliest (row 2; attribution.duplicate_conversions: earliest)"}


def test_copies_differing_in_revenue_or_user_are_a_conflict_whatever_the_policy(capsys, tmp_path):
    conversions = [("c1", "u1", "2023-09-01", "09:00:00", 100.0), ("c1", "u1", "2023-09-01", "09:00:05", 90.0),
                   ("c2", "u2", "2023-09-01", "09:00:00", 40.0), ("c2", "u1", "2023-09-01", "09:00:00", 40.0),
                   ("c3", "u2", "2023-09-01", "09:30:00", 5.0), ("c3", "u2", "2023-09-01", "09:30:00", 5.0)]
    loaded, reasons, *_ = _run(capsys, tmp_path, conversions)
    assert [r["conv_id"] for r in loaded] == ["c3"]  # exact copies collapse as before
    assert reasons[6] == "exact duplicate of row 5"
    for row in (1, 2, 3, 4):
        assert reasons[row].startswith("conflicting duplicates: 2 rows share conv_id")
        assert reasons[row].endswith("with different values (not only in conv_date, conv_time)")


REFUND = [("c1", "u1", "2023-09-01", "09:00:00", 100.0), ("r1", "u1", "2023-09-02", "10:00:00", -100.0)]


def test_a_refund_is_not_a_conversion_and_does_not_halve_cpo(capsys, tmp_path):
    loaded, reasons, res, log, out = _run(capsys, tmp_path, REFUND)
    assert [r["conv_id"] for r in loaded] == ["c1"]
    assert reasons == {2: "revenue '-100.0' is a refund (negative revenue), not a conversion (attribution.refunds: quarantine)"}
    row = next(r for r in csv.DictReader(out.open()) if r["channel_name"] == "Paid Search")
    assert (row["cost"], row["ihc"], row["CPO"], row["ROAS"]) == ("10", "1", "10", "10")
    assert [e["rows"] for e in log if "refund" in e["rule"]] == [1]


def test_refunds_keep_loads_them_as_conversions(capsys, tmp_path):
    loaded, reasons, *_, out = _run(capsys, tmp_path, REFUND, "attribution:\n  refunds: keep\n")
    assert [r["conv_id"] for r in loaded] == ["c1", "r1"] and reasons == {}
    row = next(r for r in csv.DictReader(out.open()) if r["channel_name"] == "Paid Search")
    assert (row["cost"], row["ihc"], row["CPO"]) == ("10", "2", "5")  # what the setting asks for, knowingly


def test_two_ids_of_one_user_in_one_second_warn_as_double_fired(capsys, tmp_path):
    conversions = [("c1", "u1", "2023-09-01", "09:00:00", 100.0), ("c9", "u1", "2023-09-01", "09:00:00", 100.0),
                   ("c2", "u2", "2023-09-01", "09:00:00", 40.0), ("c3", "u2", "2023-09-01", "09:00:00", 41.0),
                   ("c4", "u2", "2023-09-01", "09:00:01", 40.0)]
    loaded, reasons, res, *_ = _run(capsys, tmp_path, conversions)
    assert len(loaded) == 5 and reasons == {}  # a warning: both stay, the analyst decides
    assert "probable double-fired conversion" in " ".join(res.out.split())
    with connect(path=tmp_path / "w.duckdb") as w:
        checks = w.to_pyarrow(w.table("ops.check_results")).to_pylist()
    [hit] = [c for c in checks if c["check_name"].startswith("probable double-fired")]
    assert hit["severity"] == "warn" and hit["status"] == "warn" and hit["failing_count"] == 1
    assert '"c1, c9"' in hit["sample"] and '"u1"' in hit["sample"]  # u2's near misses are not flagged
