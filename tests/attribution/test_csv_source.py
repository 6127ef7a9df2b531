"""The challenge source as a folder of CSV exports: structural faults are errors that load
nothing; dirty rows are quarantined with their line number."""

import csv
import datetime as dt

import pytest

from martops.attribution import tables as T
from martops.engine import connect

from ..cli_runner import run_cli
from ..conftest import TINY_CONVERSIONS, TINY_COSTS, TINY_SESSIONS

RANGE = ["--since", "2023-09-01", "--until", "2023-09-07"]
HEADERS = {
    "session_sources": ["session_id", "user_id", "event_date", "event_time", "channel_name",
                        "holder_engagement", "closer_engagement", "impression_interaction"],
    "conversions": ["conv_id", "user_id", "conv_date", "conv_time", "revenue"],
    "session_costs": ["session_id", "cost"],
}


def write_folder(folder, sessions=TINY_SESSIONS, conversions=TINY_CONVERSIONS, costs=TINY_COSTS):
    folder.mkdir(exist_ok=True)
    for name, rows in [("session_sources", sessions), ("conversions", conversions), ("session_costs", costs)]:
        with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(HEADERS[name])
            w.writerows(["" if v is None else v for v in row] for row in rows)
    return folder


def _ingest(capsys, folder, wh):
    return run_cli(capsys, "attribution", "ingest", "--db", folder, *RANGE, "--warehouse", wh)


def test_a_clean_folder_loads_like_the_sqlite_file(capsys, tmp_path, tiny_db):
    res = _ingest(capsys, write_folder(tmp_path / "export"), tmp_path / "csv.duckdb")
    assert res.code == 0, res.err
    assert run_cli(capsys, "attribution", "ingest", "--db", tiny_db, *RANGE, "--warehouse", tmp_path / "sq.duckdb").code == 0
    rows = {}
    for name in ("csv", "sq"):
        with connect(path=tmp_path / f"{name}.duckdb") as w:
            rows[name] = [w.to_pyarrow(w.table(t).drop("_loaded_at").order_by(t0)).to_pylist()
                          for t, t0 in [(T.SESSIONS, "session_id"), (T.CONVERSIONS, "conv_id")]]
    assert rows["csv"] == rows["sq"]


def test_dirty_csv_rows_are_quarantined_with_their_line_number(capsys, tmp_path):
    sessions = list(TINY_SESSIONS)
    sessions[4] = ("s5", "u2", "2023-09-03", "7 am", "Performance Max", 1, 1, 0)
    conversions = TINY_CONVERSIONS + [("c1", "u1", "2023-09-02", "09:00:00", 100.0)]  # exact copy of c1
    folder = write_folder(tmp_path / "export", sessions, conversions)
    wh = tmp_path / "wh.duckdb"
    assert _ingest(capsys, folder, wh).code == 0
    with connect(path=wh) as w:
        q = {(r["table_name"], r["row_number"]): r for r in w.to_pyarrow(w.table("ops.quarantine")).to_pylist()}
        assert w.count(T.SESSIONS) == len(TINY_SESSIONS) - 1 and w.count(T.CONVERSIONS) == len(TINY_CONVERSIONS)
    assert q[("session_sources", 6)]["reason"].startswith("event_time '7 am' is not a time HH:MM:SS")  # line 6
    assert q[("conversions", 7)]["reason"] == "exact duplicate of row 2"


@pytest.mark.parametrize("fault,expected", [
    ("latin1", "session_sources.csv: line 3 is not UTF-8"),
    ("header", "table 'conversions' lacks column(s) ['revenue']"),
    ("missing", "file conversions.csv is missing; the folder of CSV files has ['session_costs.csv', 'session_sources.csv']"),
    ("empty", "table 'conversions' is empty; expected at least one row"),
    ("blank", "conversions.csv: the file is empty; expected a header line"),
])
def test_structural_faults_are_errors_and_load_nothing(capsys, tmp_path, fault, expected):
    wh = tmp_path / "wh.duckdb"
    assert _ingest(capsys, write_folder(tmp_path / "good"), wh).code == 0
    folder = write_folder(tmp_path / "bad")
    if fault == "latin1":
        text = (folder / "session_sources.csv").read_text(encoding="utf-8").replace("Direct Traffic", "Direct Café", 1)
        (folder / "session_sources.csv").write_bytes(text.encode("latin-1"))
    elif fault == "header":
        text = (folder / "conversions.csv").read_text().replace(",revenue", ",amount", 1)
        (folder / "conversions.csv").write_text(text)
    elif fault == "missing":
        (folder / "conversions.csv").unlink()
    elif fault == "empty":
        (folder / "conversions.csv").write_text(",".join(HEADERS["conversions"]) + "\n")
    elif fault == "blank":
        (folder / "conversions.csv").write_text("")
    res = _ingest(capsys, folder, wh)
    assert res.code == 1
    assert expected in " ".join(res.err.split()).replace("\n", "")
    assert "Traceback" not in res.err
    with connect(path=wh) as w:  # the earlier load is intact
        assert w.count(T.SESSIONS) == len(TINY_SESSIONS) and w.count(T.CONVERSIONS) == len(TINY_CONVERSIONS)


def test_write_back_into_a_csv_folder_is_refused_before_any_step_runs(capsys, tmp_path):
    from martops.attribution.writeback import write_back
    from martops.errors import SourceError

    folder, wh = write_folder(tmp_path / "export"), tmp_path / "wh.duckdb"
    said = f"error: --write-back needs the challenge's SQLite file; {folder} is a folder of CSV files"
    res = run_cli(capsys, "attribution", "run", "--db", folder, *RANGE, "-w", wh, "--write-back")
    assert res.code == 1 and res.err.strip().splitlines() == [said] and not wh.exists()
    assert run_cli(capsys, "attribution", "run", "--db", folder, *RANGE, "-w", wh).code == 0
    with connect(path=wh) as w:
        runs = w.count("ops.runs")
    res = run_cli(capsys, "attribution", "write-back", "--db", folder, *RANGE, "-w", wh)
    assert res.code == 1 and res.err.strip().splitlines() == [said]
    with connect(path=wh) as w:
        assert w.count("ops.runs") == runs  # no write-back step was even logged
        with pytest.raises(SourceError, match="is a folder of CSV files"):
            write_back(w, folder, "ihc", dt.date(2023, 9, 1), dt.date(2023, 9, 7))
    assert sorted(p.name for p in folder.iterdir()) == ["conversions.csv", "session_costs.csv", "session_sources.csv"]
