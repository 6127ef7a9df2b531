"""A Spark step killed with SIGKILL in the middle of a write: what it leaves, and how the next run
repairs it. The kill lands inside the SCD2 snapshot's rewrite (the one table a re-run cannot
rebuild from the delivery), after the write-ahead log was saved and the first old file had left
the table: the table is half swapped. The next writer to open the warehouse rolls the killed
transaction back (the history is exactly as before the command), the re-run completes, and the
warehouse then equals a DuckDB build of the same deliveries."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from martops.engine import connect
from tests.cli_runner import run_cli_unfixtured

from ..parity import VOLATILE, assert_same, snapshot
from .test_domain_parity import redelivery

pytestmark = pytest.mark.spark

IGNORE = VOLATILE | {"ops.check_results.query", "ops.check_results.observed", "valid_from", "valid_to"}
SNAPSHOT = "snapshots.campaign_daily"
POINT = f"spark.mid_write:{SNAPSHOT}"


def _ok(*args) -> None:
    res = run_cli_unfixtured(*map(str, args))
    assert res.code == 0, (args, res.out[-2000:], res.err)


def test_killed_mid_write_the_next_run_rolls_back_and_completes(monkeypatch, tmp_path, spark_location):
    monkeypatch.chdir(tmp_path)
    _ok("kpis", "generate", "--out", "d1", "--campaigns", "6", "--days", "20", "--seed", "5")
    redelivery(tmp_path / "d1", tmp_path / "d2", every=5, more=2.5)
    _ok("kpis", "build", "--source", "d1", "--warehouse", spark_location)
    with connect(path=spark_location, read_only=True) as wh:
        before = snapshot(wh, skip=["ops.runs", "ops.cleaning_log", "ops.check_results"])

    marker = tmp_path / "paused"
    src = Path(__file__).resolve().parents[2] / "src"
    victim = subprocess.Popen(
        [sys.executable, "-m", "martops", "kpis", "build", "--source", "d2", "--warehouse", spark_location],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(src), "MARTOPS_PAUSE_AT": POINT, "MARTOPS_PAUSE_FILE": str(marker)})
    try:
        deadline = time.monotonic() + 600  # its own JVM starts first: slow on a loaded machine
        while not marker.exists():
            if victim.poll() is not None:
                raise AssertionError(f"the build ended before the pause point: {victim.communicate()}")
            assert time.monotonic() < deadline, "the pause point was never reached"
            time.sleep(0.2)
    finally:
        os.killpg(victim.pid, signal.SIGKILL)  # the process and the JVM it started
    assert victim.wait(60) == -signal.SIGKILL

    # what the kill left: the undo log, and a snapshot table missing one of its old files
    folder = Path(spark_location.removeprefix("spark:"))
    assert (folder / "_martops" / "transaction.json").is_file()
    with connect(path=spark_location, read_only=True) as wh:  # a reader repairs nothing
        assert wh.count(SNAPSHOT) < len(before[SNAPSHOT])
    # the next writer's open rolls it back: the history as before the killed command
    with connect(path=spark_location) as wh:
        assert not (folder / "_martops" / "transaction.json").exists()
        assert snapshot(wh, skip=["ops.runs", "ops.cleaning_log", "ops.check_results", "ops.quarantine",
                                  "staging.campaign_channels", "staging.leads_funnel", "staging.web_orders"]) == {
            k: v for k, v in before.items() if not k.startswith("staging.") and k != "ops.quarantine"}
    _ok("kpis", "build", "--source", "d2", "--warehouse", spark_location)
    with connect(path=spark_location, read_only=True) as wh:
        runs = wh.to_pyarrow(wh.table("ops.runs").order_by("started_at")).to_pylist()
    assert [(r["step"], r["status"]) for r in runs] == [
        ("kpis.load", "success"), ("kpis.snapshot", "success"), ("kpis.mart", "success"),
        ("kpis.load", "success"), ("kpis.snapshot", "abandoned"),
        ("kpis.load", "success"), ("kpis.snapshot", "success"), ("kpis.mart", "success")]

    duck = str(tmp_path / "warehouse.duckdb")
    _ok("kpis", "build", "--source", "d1", "--warehouse", duck)
    _ok("kpis", "build", "--source", "d2", "--warehouse", duck)
    with connect(path=duck, read_only=True) as a, connect(path=spark_location, read_only=True) as b:
        # (the logs of runs append: the Spark warehouse holds the killed run's and the re-run's too)
        logs = {"ops.runs", "ops.cleaning_log", "ops.check_results"}
        assert_same(a, b, ignore=IGNORE, tables=sorted(n for n, _, _ in a.relations() if n not in logs))
        assert b.execute(f"SELECT count(*) FROM {SNAPSHOT} WHERE valid_to IS NOT NULL")[0][0] > 0
