"""Read-only commands: they work while a pipeline holds the write lock, write nothing, and a
missing warehouse or a failed validation creates nothing."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import martops
from martops.engine import connect

from ..cli_runner import run_cli

RANGE = ["--since", "2023-09-01", "--until", "2023-09-07"]
SRC = str(Path(martops.__file__).resolve().parents[1])

HOLD = """
import sys, time
from martops.engine import connect
from martops.ops import runlog
wh = connect(path=sys.argv[1])
with runlog.logged(wh, "attribution.ingest", {}) as run:  # a step in progress, holding the write lock
    print("ready", flush=True)
    time.sleep(60)
"""


@pytest.fixture
def built(capsys, tiny_db, tmp_path):
    wh = tmp_path / "wh.duckdb"
    assert run_cli(capsys, "attribution", "run", "--db", tiny_db, *RANGE, "-w", wh).code == 0
    return wh


@pytest.fixture
def running(built):
    """A child process that runs a step on `built` (the write lock held) until the test ends."""
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    child = subprocess.Popen([sys.executable, "-c", HOLD, str(built)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout.readline().strip() == "ready"
        yield built
    finally:
        child.kill()
        child.wait()


@pytest.mark.parametrize("args,shows", [
    (["runs"], "running"),
    (["status"], "staging.sessions"),
    (["tables"], "channel_reporting"),
    (["show", "ops.runs"], "attribution.ingest"),
    (["sql", "SELECT step, status FROM ops.runs WHERE status = 'running'", "--format", "csv"],
     "attribution.ingest,running"),
    (["quarantine"], "ghost"),
    (["attribution", "show", *RANGE], "Paid Search Brand"),
    (["attribution", "cleaning"], "nothing logged yet"),  # the last ingest is the running one
])
def test_read_only_commands_work_while_a_pipeline_holds_the_write_lock(capsys, running, args, shows):
    """`config.lock_timeout_seconds` is 60: a command that waited for the lock would not finish."""
    res = run_cli(capsys, *args, "-w", running)
    assert res.code == 0, res.err
    assert shows in res.out
    assert res.err.strip() == (f"note: {running} is being written by another process; showing it as of that "
                               "process's last commit")


def test_read_only_commands_leave_the_file_as_it_was(capsys, built):
    before = built.read_bytes()
    for args in (["runs"], ["status"], ["quarantine"], ["tables"], ["show", "marts.channel_reporting"],
                 ["attribution", "cleaning"], ["attribution", "show", *RANGE]):
        assert run_cli(capsys, *args, "-w", built).code == 0
    assert built.read_bytes() == before
    assert not built.with_name(built.name + ".wal").exists()


@pytest.mark.parametrize("args", [
    ["kpis", "build", "--source", "nope"],
    ["crm", "build", "--source", "nope"],
    ["attribution", "ingest", "--db", "nope.db", *RANGE],
    ["attribution", "run", "--db", "nope.db", *RANGE],
    ["attribution", "run", "--db", "nope.db", "--since", "2023-09-09", "--until", "2023-09-01"],
    ["attribution", "run", "--db", "nope.db", *RANGE, "--model", "nosuch"],
    ["attribution", "ingest", "--db", "nope.db", *RANGE, "--lookback-days", "0"],
    ["kpis", "show", "--by", "nosuch"],
    ["sql", ""],
    ["show", "x", "--format", "xml"],
])
def test_a_command_that_fails_validation_creates_nothing(capsys, tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    res = run_cli(capsys, *args, "-w", tmp_path / "new" / "w.duckdb")
    assert res.code in (1, 2) and len(res.err.strip().splitlines()) == 1, res.err
    assert list(tmp_path.iterdir()) == []


def test_a_failed_load_into_an_existing_folder_removes_only_the_file_it_made(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    """The delivery exists, so the warehouse is opened; the load finds it is a file, not a folder."""
    (tmp_path / "out").mkdir()
    (tmp_path / "exports.csv").write_text("a,b\n")
    res = run_cli(capsys, "kpis", "build", "--source", "exports.csv", "-w", tmp_path / "out" / "w.duckdb")
    assert res.code == 1 and "exports.csv is not a folder" in res.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exports.csv", "out"]
    assert list((tmp_path / "out").iterdir()) == []
    res = run_cli(capsys, "kpis", "build", "--source", "exports.csv", "-w", tmp_path / "new" / "deeper" / "w.duckdb")
    assert res.code == 1 and not (tmp_path / "new").exists()


def test_a_failed_load_into_an_existing_warehouse_keeps_it_and_logs_the_failure(capsys, built):
    (built.parent / "exports.csv").write_text("a,b\n")
    res = run_cli(capsys, "kpis", "build", "--source", built.parent / "exports.csv", "-w", built)
    assert res.code == 1 and "is not a folder" in res.err and built.exists()
    with connect(path=built, read_only=True) as wh:
        assert wh.execute("SELECT status FROM ops.runs ORDER BY started_at DESC LIMIT 1") == [("failed",)]
