"""Crash safety and concurrency with real processes: SIGKILL mid-step leaves the warehouse as it
was before the step; a second run waits for the lock or fails clearly, never corrupting the first."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


from martops.attribution import tables as T
from martops.engine import connect

from ..conftest import TINY_CONVERSIONS, TINY_COSTS, TINY_SESSIONS, make_challenge_db

RANGE = ["--since", "2023-09-01", "--until", "2023-09-07"]


def _martops(*args, env=None):
    return subprocess.Popen([sys.executable, "-m", "martops.cli", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})


def _wait_for(path: Path, proc, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"process ended before the pause point: {proc.communicate()}")
        assert time.monotonic() < deadline, "pause point never reached"
        time.sleep(0.05)


def _snapshot(wh_path):
    with connect(path=wh_path) as w:
        return {name: w.to_pyarrow(w.table(name).order_by(cols)).to_pylist()
                for name, cols in [(T.SESSIONS, ["session_id"]), (T.CONVERSIONS, ["conv_id"]),
                                   ("ops.quarantine", ["table_name", "row_number"])]}


def _pause_env(tmp_path, point):
    marker = tmp_path / f"paused-{point}"
    return marker, {"MARTOPS_PAUSE_AT": point, "MARTOPS_PAUSE_FILE": str(marker)}


def test_sigkill_mid_ingest_leaves_the_previous_state_and_the_next_run_completes(tmp_path):
    wh = tmp_path / "wh.duckdb"
    first = make_challenge_db(tmp_path / "first.db", TINY_SESSIONS, TINY_CONVERSIONS, TINY_COSTS)
    done = _martops("attribution", "ingest", "--db", first, *RANGE, "--warehouse", wh)
    assert done.wait(120) == 0, done.communicate()
    before = _snapshot(wh)

    # a re-delivery with one session changed and one conversion dropped, killed before commit
    changed = [("s1", "u1", "2023-08-30", "10:00:00", "Referral", 1, 0, 0)] + TINY_SESSIONS[1:]
    second = make_challenge_db(tmp_path / "second.db", changed, TINY_CONVERSIONS[:-1], TINY_COSTS)
    marker, env = _pause_env(tmp_path, "ingest.before_commit")
    victim = _martops("attribution", "ingest", "--db", second, *RANGE, "--warehouse", wh, env=env)
    _wait_for(marker, victim)
    os.kill(victim.pid, signal.SIGKILL)
    assert victim.wait(30) == -signal.SIGKILL

    assert _snapshot(wh) == before  # no half range: staging and quarantine as before the step
    with connect(path=wh) as w:
        statuses = [r["status"] for r in w.to_pyarrow(w.table("ops.runs").order_by("started_at")).to_pylist()]
    assert statuses == ["success", "running"]  # the killed run left its mark

    again = _martops("attribution", "ingest", "--db", second, *RANGE, "--warehouse", wh)
    assert again.wait(120) == 0, again.communicate()
    after = _snapshot(wh)
    assert len(after[T.CONVERSIONS]) == len(TINY_CONVERSIONS) - 1
    assert [s["channel_name"] for s in after[T.SESSIONS] if s["session_id"] == "s1"] == ["Referral"]
    with connect(path=wh) as w:
        runs = w.to_pyarrow(w.table("ops.runs").order_by("started_at")).to_pylist()
    assert [r["status"] for r in runs] == ["success", "abandoned", "success"]
    assert "killed or crashed" in runs[1]["error"]


def test_a_second_run_waits_for_the_lock_or_fails_clearly_without_harming_the_first(tmp_path):
    wh = tmp_path / "wh.duckdb"
    db = make_challenge_db(tmp_path / "tiny.db", TINY_SESSIONS, TINY_CONVERSIONS, TINY_COSTS)
    marker, env = _pause_env(tmp_path, "ingest.before_commit")
    first = _martops("attribution", "run", "--db", db, *RANGE, "--warehouse", wh,
                     env={**env, "MARTOPS_PAUSE_SECONDS": "15"})  # long enough for two CLI start-ups on a loaded machine
    _wait_for(marker, first)

    cfg = tmp_path / "impatient.yml"
    cfg.write_text("warehouse:\n  lock_timeout_seconds: 0.5\n")
    impatient = _martops("attribution", "run", "--db", db, *RANGE, "--warehouse", wh, "--config", cfg)
    out, err = impatient.communicate(timeout=120)
    assert impatient.returncode == 1
    assert "is in use by another martops process (waited 0.5 s)" in " ".join(err.split())
    assert "Traceback" not in err

    patient = _martops("attribution", "run", "--db", db, *RANGE, "--warehouse", wh)  # default: waits 60 s
    assert first.wait(120) == 0, first.communicate()
    out, err = patient.communicate(timeout=120)
    assert patient.returncode == 0, err
    assert "in use by another martops process; waiting" in err
    with connect(path=wh) as w:
        runs = w.to_pyarrow(w.table("ops.runs")).to_pylist()
        assert w.count(T.CONVERSIONS) == len(TINY_CONVERSIONS) and w.count(T.SESSIONS) == len(TINY_SESSIONS)
    assert {r["status"] for r in runs} == {"success"} and len({r["run_id"] for r in runs}) == 2


def test_a_reader_shows_a_running_step_of_a_dead_process_as_abandoned(tmp_path):
    """Before any writer has marked it, `martops runs` already tells a dead run from a live one."""
    import datetime as dt
    import os
    import socket
    import subprocess

    import ibis

    from martops.engine import connect
    from martops.ops import runlog

    gone = subprocess.Popen(["true"])
    gone.wait()  # its pid is now free (a reuse within this test is vanishingly unlikely)
    path = tmp_path / "w.duckdb"
    with connect(path=path) as wh:
        wh.ensure_table(runlog.RUNS, runlog.SCHEMA)
        for run_id, pid in (("dead", gone.pid), ("live", os.getpid())):
            wh.insert(runlog.RUNS, ibis.memtable({
                "run_id": [run_id], "step": ["attribution.ingest"], "params": ["{}"], "since": [None], "until": [None],
                "started_at": [dt.datetime.now()], "ended_at": [None], "status": ["running"], "rows_in": [None],
                "rows_out": [None], "error": [None], "pid": [pid], "host": [socket.gethostname()]},
                schema=runlog.SCHEMA))
    with connect(path=path, read_only=True) as wh:
        seen = {r["run_id"]: r["status"] for r in runlog.recent(wh)}
    assert seen == {"dead": "abandoned", "live": "running"}
