"""`martops schedule serve`: fires run `martops run` (for real, as a child process) and are logged
in ops.runs; a schedule never overlaps itself; missed fires are skipped or run once; Ctrl-C ends
serve with 130 and no traceback. Fast fires come from croniter's seconds field (`* * * * * *`)."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import ibis

from martops.automation.firetimes import FireTimes
from martops.automation.serve import Outcome, ScheduleServer, serve
from martops.config import load_config
from martops.engine import connect
from martops.ops.runlog import RUNS, SCHEMA

from ..cli_runner import run_cli
from ..conftest import TINY_CONVERSIONS, TINY_COSTS, TINY_SESSIONS, make_challenge_db

UTC = dt.timezone.utc
EVERY_SECOND = FireTimes("* * * * * *")
INTERRUPTED = "interrupted; nothing of this step was written; re-run the same command"


def _project(tmp_path: Path, schedules: str, sources: str = "sources: {campaigns: {path: exports}}\n") -> Path:
    path = tmp_path / "martops.yml"
    path.write_text(sources + "schedules:\n" + schedules)
    return path


def _kpis_exports(tmp_path: Path, capsys) -> None:
    out = run_cli(capsys, "kpis", "generate", "--out", tmp_path / "exports", "--seed", "1", "--campaigns", "4",
                  "--days", "14", "--force")
    assert out.code == 0, out.err


def _rows(tmp_path: Path, step_prefix: str = "") -> list[dict]:
    with connect(path=tmp_path / "warehouse.duckdb", create=False) as wh:
        t = wh.table(RUNS)
        return wh.to_pyarrow(t.filter(t.step.startswith(step_prefix)).order_by("started_at")).to_pylist()


def _server(config: Path, **kw) -> tuple[ScheduleServer, list[str]]:
    lines: list[str] = []
    cfg = load_config(config)
    return ScheduleServer(cfg.schedules, config, cfg.warehouse, say=lines.append, **kw), lines


def _serve(server: ScheduleServer, timeout: float = 120) -> None:
    """serve() in a thread, so a test that goes wrong fails instead of hanging."""
    worker = threading.Thread(target=serve, args=(server,), daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        server.stop()
        raise AssertionError(f"serve did not end within {timeout} s")


class FakeRunner:
    """Stands in for the child process where a test is about timing, not about `martops run`."""

    def __init__(self, seconds: float = 0.0, outcome: Outcome = Outcome(0)):
        self.seconds, self.outcome = seconds, outcome
        self.calls: list[list[str]] = []
        self.active = self.most_active = 0
        self._lock = threading.Lock()

    def __call__(self, argv, cwd, log):
        with self._lock:
            self.calls.append(argv)
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        time.sleep(self.seconds)
        with self._lock:
            self.active -= 1
        return self.outcome


def test_python_dash_m_martops_is_the_cli():
    done = subprocess.run([sys.executable, "-m", "martops", "--version"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout == "martops 0.1.0\n"


def test_a_fire_runs_martops_run_for_real_and_logs_it_in_ops_runs(tmp_path, capsys):
    _kpis_exports(tmp_path, capsys)
    config = _project(tmp_path, "  - {name: nightly, cron: '0 6 * * *', select: [kpis]}\n")
    server, lines = _server(config, fires={"nightly": EVERY_SECOND}, max_runs=1)
    t0 = dt.datetime.now()
    _serve(server)
    assert (server.runs, server.failed) == (1, 0), lines

    [row] = _rows(tmp_path, "schedule.")
    assert (row["step"], row["status"], row["error"], row["since"], row["until"]) == (
        "schedule.nightly", "success", None, None, None)
    params = json.loads(row["params"])
    assert params["command"] == f"run kpis --config {config}" and params["fires"] == 1 and params["exit_code"] == 0
    assert t0 <= row["started_at"] <= row["ended_at"]
    steps = {r["step"]: r["status"] for r in _rows(tmp_path, "kpis.")}  # what the child itself logged
    assert steps == {"kpis.load": "success", "kpis.snapshot": "success", "kpis.mart": "success"}
    log = (tmp_path / ".martops" / "logs" / "schedule-nightly.log").read_text()
    assert f"-m martops run kpis --config {config}" in log and "kpis.mart" in log
    assert any(line.startswith("nightly: fire ") and line.endswith("martops run kpis: success") for line in lines)


def test_a_schedule_never_overlaps_itself_and_says_which_fires_it_skipped(tmp_path):
    config = _project(tmp_path, "  - {name: slow, cron: '0 6 * * *', select: [kpis]}\n"
                                "  - {name: other, cron: '0 7 * * *', select: [kpis.mart]}\n")
    runner = FakeRunner(seconds=2.5)
    server, lines = _server(config, runner=runner, fires={"slow": EVERY_SECOND}, max_runs=2)
    _serve(server)
    assert runner.most_active == 1 and len(runner.calls) == 2
    skipped = [line for line in lines if "skipped: its previous run is still going" in line]
    assert len(skipped) >= 2 and all(line.startswith("slow: fire ") for line in skipped)
    rows = _rows(tmp_path, "schedule.")
    assert [(r["step"], r["status"]) for r in rows] == [("schedule.slow", "success")] * 2
    first, second = (dt.datetime.fromisoformat(json.loads(r["params"])["fire"]) for r in rows)
    assert second - first >= dt.timedelta(seconds=2)  # the fires in between did not run


def test_a_failed_run_is_logged_failed_with_its_one_line_error(tmp_path):
    config = _project(tmp_path, "  - {name: nightly, cron: '0 6 * * *', select: [kpis]}\n")
    runner = FakeRunner(outcome=Outcome(1, "kpis.load failed: exports/leads_funnel.csv line 3: ..."))
    server, lines = _server(config, runner=runner, fires={"nightly": EVERY_SECOND}, max_runs=1)
    _serve(server)
    assert (server.runs, server.failed) == (1, 1)
    [row] = _rows(tmp_path, "schedule.")
    assert (row["status"], row["error"]) == ("failed", "kpis.load failed: exports/leads_funnel.csv line 3: ...")
    assert lines[-1].endswith("failed (exit 1): kpis.load failed: exports/leads_funnel.csv line 3: ...")


# -- missed fires -----------------------------------------------------------------------------
def _last_six_utc() -> dt.datetime:
    now = dt.datetime.now(UTC)
    six = now.replace(hour=6, minute=0, second=0, microsecond=0)
    return six if six <= now else six - dt.timedelta(days=1)


def _record_fire(tmp_path: Path, name: str, fire: dt.datetime) -> None:
    """ops.runs as an earlier serve left it: its last recorded fire of `name`."""
    with connect(path=tmp_path / "warehouse.duckdb", create=True) as wh:
        wh.ensure_table(RUNS, SCHEMA)
        wh.insert(RUNS, ibis.memtable({
            "run_id": ["earlier"], "step": [f"schedule.{name}"], "params": [json.dumps({"fire": fire.isoformat()})],
            "since": [None], "until": [None], "started_at": [fire.replace(tzinfo=None)],
            "ended_at": [fire.replace(tzinfo=None)], "status": ["success"], "rows_in": [None], "rows_out": [None],
            "error": [None], "pid": [1], "host": ["earlier"]}, schema=SCHEMA))


def test_run_once_catches_up_every_missed_day_in_one_run_at_start(tmp_path):
    latest = _last_six_utc()
    last_recorded = latest - dt.timedelta(days=3)  # serve was down for the fires of 3 days
    config = _project(tmp_path, "  - {name: daily, cron: '0 6 * * *', select: [kpis], missed: run_once, "
                                "range: previous_day}\n")
    _record_fire(tmp_path, "daily", last_recorded)
    runner = FakeRunner()
    server, lines = _server(config, runner=runner, max_runs=1)
    _serve(server, timeout=30)

    since, until = last_recorded.date(), latest.date() - dt.timedelta(days=1)  # the day before each missed fire
    assert runner.calls == [[sys.executable, "-m", "martops", "run", "kpis", "--config", str(config),
                             "--since", str(since), "--until", str(until)]]
    assert lines[0].startswith("daily: 3 fire(s) from ") and lines[0].endswith("running once now for them "
                                                                               "(missed: run_once)")
    row = _rows(tmp_path, "schedule.")[-1]
    assert (row["since"], row["until"], json.loads(row["params"])["fires"]) == (since, until, 3)
    assert dt.datetime.fromisoformat(json.loads(row["params"])["fire"]) == latest


def test_skip_leaves_missed_fires_and_waits_for_the_next(tmp_path):
    latest = _last_six_utc()
    config = _project(tmp_path, "  - {name: daily, cron: '0 6 * * *', select: [kpis], missed: skip}\n")
    _record_fire(tmp_path, "daily", latest - dt.timedelta(days=3))
    runner = FakeRunner()
    server, lines = _server(config, runner=runner)
    server.start()
    try:
        time.sleep(2)
        job = server.scheduler.get_job("daily")
        assert job.next_run_time == latest + dt.timedelta(days=1)
    finally:
        server.stop()
    assert runner.calls == []
    assert lines[0].startswith("daily: 3 fire(s) from ") and lines[0].endswith("; skipped (missed: skip)")


def test_the_cli_catches_up_with_a_real_run_and_exits_1_when_it_failed(tmp_path, capsys):
    """A delivery folder that is not there: the child fails with its one-line error, which is what
    ops.runs and serve's line keep; --max-runs 1 then ends serve with exit 1."""
    config = _project(tmp_path, "  - {name: daily, cron: '0 6 * * *', missed: run_once}\n",
                      sources="sources: {campaigns: {path: no-such-folder}}\n")
    _record_fire(tmp_path, "daily", _last_six_utc() - dt.timedelta(days=1))
    out = run_cli(capsys, "schedule", "serve", "--config", config, "--max-runs", "1")
    assert out.code == 1 and "Traceback" not in out.out + out.err, out
    [row] = [r for r in _rows(tmp_path, "schedule.") if r["run_id"] != "earlier"]
    assert row["status"] == "failed" and "no-such-folder" in row["error"] and "\n" not in row["error"]
    assert f"martops run (the whole project): failed (exit 1): {row['error']}" in out.out
    assert out.out.splitlines()[-1].endswith("stopped after 1 run(s), 1 failed")


# -- Ctrl-C -----------------------------------------------------------------------------------
def _serve_process(config: Path, tmp_path: Path, env: dict | None = None) -> tuple[subprocess.Popen, Path]:
    out = tmp_path / "serve.out"
    proc = subprocess.Popen([sys.executable, "-m", "martops", "schedule", "serve", "--config", str(config)],
                            stdout=out.open("w"), stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
    return proc, out


def _wait(predicate, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, f"serve ended early: {proc.communicate()}"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_ctrl_c_stops_serve_with_130_and_one_line(tmp_path):
    config = _project(tmp_path, "  - {name: yearly, cron: '0 0 1 1 *', select: [kpis]}\n")
    proc, out = _serve_process(config, tmp_path)
    _wait(lambda: "yearly: next fire" in out.read_text(), proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and err.strip() == INTERRUPTED


def test_ctrl_c_during_a_run_interrupts_the_child_once_and_logs_the_run_failed(tmp_path):
    db = make_challenge_db(tmp_path / "challenge.db", TINY_SESSIONS, TINY_CONVERSIONS, TINY_COSTS)
    config = _project(tmp_path, "  - {name: daily, cron: '0 6 * * *', select: [attribution.ingest], "
                                "missed: run_once}\n", sources=f"sources: {{attribution: {{path: {db.name}}}}}\n")
    _record_fire(tmp_path, "daily", _last_six_utc() - dt.timedelta(days=1))  # so a run starts at once
    marker = tmp_path / "paused"
    proc, out = _serve_process(config, tmp_path, {"MARTOPS_PAUSE_AT": "ingest.before_commit",
                                                  "MARTOPS_PAUSE_FILE": str(marker)})
    _wait(marker.exists, proc)  # the child is inside attribution.ingest's transaction
    child = int(marker.read_text())
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err.strip() == INTERRUPTED, err
    assert not Path(f"/proc/{child}").exists()  # the child ended too
    ingest = _rows(tmp_path, "attribution.ingest")[-1]
    assert ingest["status"] == "failed" and ingest["error"].startswith("interrupted (Ctrl-C)")
    row = [r for r in _rows(tmp_path, "schedule.") if r["run_id"] != "earlier"][-1]
    assert row["status"] == "failed" and json.loads(row["params"])["exit_code"] == 130
    assert "stopping (Ctrl-C)" in out.read_text()
