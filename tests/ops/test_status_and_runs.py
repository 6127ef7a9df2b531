"""`martops status`, `runs` and `quarantine` on a real warehouse, and a locked SQLite source."""

import datetime as dt
import sqlite3

from martops.config import ProjectConfig
from martops.domains import status_sources
from martops.engine import connect
from martops.ops.status import source_status

from ..cli_runner import run_cli

RANGE = ["--since", "2023-09-01", "--until", "2023-09-07"]


def test_status_shows_freshness_last_load_and_quarantine(capsys, tiny_db, tmp_path):
    wh = tmp_path / "wh.duckdb"
    res = run_cli(capsys, "status", "--warehouse", wh)
    assert res.code == 1 and "does not exist (nothing was created)" in res.err and not wh.exists()
    connect(path=wh).close()
    res = run_cli(capsys, "status", "--warehouse", wh)
    assert res.code == 0 and "missing" in res.out and "never" in res.out
    assert run_cli(capsys, "attribution", "ingest", "--db", tiny_db, *RANGE, "--warehouse", wh).code == 0
    res = run_cli(capsys, "status", "--warehouse", wh)
    out = " ".join(res.out.split())
    assert res.code == 0 and "staging.sessions" in out and "fresh" in out and "success" in out
    with connect(path=wh) as w:
        now = dt.datetime.now()
        later = now + dt.timedelta(hours=13)
        by_table = {s.table: s for s in source_status(w, ProjectConfig(), status_sources(), now=later)}
        assert by_table["staging.sessions"].freshness == "warn" and by_table["staging.sessions"].rows == 9
        assert by_table["staging.sessions"].quarantined == 1  # the 'ghost' cost row
        stale = source_status(w, ProjectConfig(), status_sources(), now=now + dt.timedelta(hours=25))
        assert {s.freshness for s in stale} == {"stale"}


def test_runs_lists_steps_with_status_and_errors(capsys, tiny_db, tmp_path):
    wh = tmp_path / "wh.duckdb"
    assert run_cli(capsys, "attribution", "run", "--db", tiny_db, *RANGE, "--warehouse", wh).code == 0
    assert run_cli(capsys, "attribution", "attribute", *RANGE, "--model", "ihc_api", "--warehouse", wh).code == 1
    res = run_cli(capsys, "runs", "--warehouse", wh, "--limit", "10")
    out = " ".join(res.out.split())
    assert res.code == 0
    for step in ("attribution.ingest", "attribution.journeys", "attribution.attribute", "attribution.report"):
        assert step in out
    assert "failed" in out and "success" in out
    with connect(path=wh) as w:
        runs = w.to_pyarrow(w.table("ops.runs").order_by("started_at")).to_pylist()
    assert len({r["run_id"] for r in runs[:4]}) == 1  # one command, one run id
    assert runs[-1]["status"] == "failed" and runs[-1]["error"] and '"model": "ihc_api"' in runs[-1]["params"]
    assert runs[0]["rows_in"] == 14 and runs[0]["rows_out"] == 14


def test_a_sqlite_file_locked_by_a_writer_is_an_error(capsys, tiny_db, tmp_path):
    writer = sqlite3.connect(tiny_db, isolation_level=None)
    writer.execute("BEGIN EXCLUSIVE")
    writer.execute("DELETE FROM conversions WHERE conv_id = 'c1'")
    try:
        res = run_cli(capsys, "attribution", "ingest", "--db", tiny_db, *RANGE, "--warehouse", tmp_path / "w.duckdb")
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    msg = " ".join(res.err.split())
    assert res.code == 1 and "is locked by another program writing to it" in msg and "nothing was loaded" in msg


def test_quarantine_table_typo_is_an_error_naming_the_nearest(capsys, tiny_db, tmp_path):
    wh = tmp_path / "wh.duckdb"
    assert run_cli(capsys, "attribution", "ingest", "--db", tiny_db, *RANGE, "--warehouse", wh).code == 0
    res = run_cli(capsys, "quarantine", "--table", "session_costs", "--warehouse", wh)
    assert res.code == 0 and "ghost" in res.out  # the one quarantined cost row
    res = run_cli(capsys, "quarantine", "--table", "conversions", "--warehouse", wh)
    assert res.code == 0 and "nothing quarantined" in res.out  # a known table with no bad rows
    res = run_cli(capsys, "quarantine", "--table", "web_orders", "--warehouse", wh)
    assert res.code == 0 and "nothing quarantined" in res.out  # another domain's table, not loaded here
    for typo, near in (("web_order", "web_orders"), ("Session_Costs", "session_costs")):
        res = run_cli(capsys, "quarantine", "--table", typo, "--warehouse", wh)
        msg = " ".join(res.err.split())
        assert res.code == 1 and res.out == "" and "Traceback" not in res.err, res
        assert f"--table {typo!r} is not a source table" in msg and f"did you mean {near}" in msg, msg
        assert len(res.err.strip().splitlines()) == 1, res.err
    res = run_cli(capsys, "quarantine", "--table", "zzz", "--warehouse", wh)
    assert res.code == 1 and "the source tables are" in res.err and "session_sources" in res.err


def test_runs_step_typo_is_an_error_naming_the_nearest(capsys, tiny_db, tmp_path):
    wh = tmp_path / "wh.duckdb"
    yml = tmp_path / "martops.yml"
    yml.write_text("schedules:\n  - {name: nightly, cron: '0 6 * * *', select: [kpis]}\n", encoding="utf-8")
    assert run_cli(capsys, "attribution", "ingest", "--db", tiny_db, *RANGE, "--warehouse", wh).code == 0
    for ok in ("attribution", "attribution.ingest", "attribution.ing"):
        res = run_cli(capsys, "runs", "--step", ok, "--warehouse", wh, "--config", yml)
        assert res.code == 0 and "attribution.ingest" in res.out, (ok, res)
    for known in ("crm", "kpis.load", "check", "schedule.nightly"):  # steps that have not run here
        res = run_cli(capsys, "runs", "--step", known, "--warehouse", wh, "--config", yml)
        assert res.code == 0 and f"no runs of {known}* recorded yet" in res.out, (known, res)
    for typo, near in (("atribution", "attribution"), ("attribution.ingset", "attribution.ingest"),
                       ("KPIS.load", "kpis.load"), ("schedule.nigthly", "schedule.nightly")):
        res = run_cli(capsys, "runs", "--step", typo, "--warehouse", wh, "--config", yml)
        msg = " ".join(res.err.split())
        assert res.code == 1 and res.out == "" and "Traceback" not in res.err, (typo, res)
        assert f"--step {typo!r} is the start of no step name" in msg and f"did you mean {near}" in msg, msg
        assert len(res.err.strip().splitlines()) == 1, res.err
    res = run_cli(capsys, "runs", "--step", "nosuch", "--warehouse", wh, "--config", yml)
    msg = " ".join(res.err.split())
    assert res.code == 1 and "the steps are attribution.*, check, crm.*, fx.*, kpis.*, leads.*, loyalty.*, report.*, schedule.*, usage.*, workflows.*" in msg, msg
