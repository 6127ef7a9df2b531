"""Ctrl-C with real processes: SIGINT stops a step within seconds, also in the middle of a long
DuckDB query, prints one line, exits 130 and leaves the warehouse as it was before the step."""

import signal
import time

from martops.engine import connect

from ..conftest import TINY_CONVERSIONS, TINY_COSTS, TINY_SESSIONS, make_challenge_db
from .test_crash_and_concurrency import RANGE, _martops, _pause_env, _snapshot, _wait_for

INTERRUPTED = "interrupted; nothing of this step was written; re-run the same command"


def _first_load_then_changed_delivery(tmp_path):
    wh = tmp_path / "wh.duckdb"
    first = make_challenge_db(tmp_path / "first.db", TINY_SESSIONS, TINY_CONVERSIONS, TINY_COSTS)
    done = _martops("attribution", "ingest", "--db", first, *RANGE, "--warehouse", wh)
    assert done.wait(120) == 0, done.communicate()
    changed = [("s1", "u1", "2023-08-30", "10:00:00", "Referral", 1, 0, 0)] + TINY_SESSIONS[1:]
    second = make_challenge_db(tmp_path / "second.db", changed, TINY_CONVERSIONS[:-1], TINY_COSTS)
    return wh, second


def _interrupt(proc, timeout=20.0):
    """Send SIGINT; return (exit code, stderr, seconds until the process ended)."""
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err, time.monotonic() - t0


def _last_run(wh):
    with connect(path=wh, create=False) as w:
        return w.to_pyarrow(w.table("ops.runs").order_by("started_at")).to_pylist()[-1]


def test_ctrl_c_before_commit_rolls_the_step_back_with_one_line_and_exit_130(tmp_path):
    wh, second = _first_load_then_changed_delivery(tmp_path)
    before = _snapshot(wh)
    marker, env = _pause_env(tmp_path, "ingest.before_commit")
    proc = _martops("attribution", "ingest", "--db", second, *RANGE, "--warehouse", wh, env=env)
    _wait_for(marker, proc)

    code, err, seconds = _interrupt(proc)
    assert code == 130 and seconds < 5
    assert err.strip() == INTERRUPTED  # one line, no traceback, no "Aborted!"
    assert _snapshot(wh) == before  # no half step
    run = _last_run(wh)
    assert run["step"] == "attribution.ingest" and run["status"] == "failed"
    assert run["error"] == "interrupted (Ctrl-C); the step's changes were rolled back"


def test_ctrl_c_interrupts_a_long_duckdb_query_within_seconds(tmp_path):
    """A declared check whose query would run for hours: the pause point (0 s) marks the moment
    just before the step's checks run, so the SIGINT lands inside DuckDB, not in Python."""
    wh, second = _first_load_then_changed_delivery(tmp_path)
    before = _snapshot(wh)
    slow = "(SELECT count(*) FROM range(1000000000000) t(i) WHERE i % 7 = 3) > 0"
    cfg = tmp_path / "martops.yml"
    cfg.write_text(f'checks:\n  staging.sessions:\n    - expression: {{expr: "{slow}"}}\n')
    marker, env = _pause_env(tmp_path, "ingest.before_commit")
    proc = _martops("attribution", "ingest", "--db", second, *RANGE, "--warehouse", wh, "--config", cfg,
                    env={**env, "MARTOPS_PAUSE_SECONDS": "0"})
    _wait_for(marker, proc)
    time.sleep(1.5)  # well inside the 10^12-row scan
    assert proc.poll() is None, proc.communicate()

    code, err, seconds = _interrupt(proc)
    assert code == 130 and seconds < 5, (code, seconds, err)
    assert err.strip() == INTERRUPTED
    assert _snapshot(wh) == before
    assert _last_run(wh)["status"] == "failed"

    again = _martops("attribution", "ingest", "--db", second, *RANGE, "--warehouse", wh)
    assert again.wait(120) == 0, again.communicate()  # the same command, re-run, completes
    assert [s["channel_name"] for s in _snapshot(wh)["staging.sessions"] if s["session_id"] == "s1"] == ["Referral"]
