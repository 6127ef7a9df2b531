"""A small real martops project for the orchestrator tests, and the orchestrators' own venvs.

The adapters run in Airflow's and Dagster's virtualenvs (`make airflow-env`, `make dagster-env`)
and call the martops CLI of the core venv: the one running these tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[2]
MARTOPS = Path(sys.executable).parent / "martops"


def orchestrator_python(name: str) -> Path:
    """`.venv-<name>/bin/python`, or skip saying how to build it."""
    python = REPO / f".venv-{name}" / "bin" / "python"
    if not python.exists():
        pytest.skip(f"no {python.relative_to(REPO)}: run `make {name}-env` (CI does)")
    return python


def martops(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run([str(MARTOPS), *args], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done


def small_project(root: Path, *, attribution_db: str = "challenge.db") -> Path:
    """Synthetic campaign exports (4 campaigns, 14 days) and a challenge database (200
    conversions, 2023-08-29..2023-09-07) with a martops.yml declaring both; returns the folder."""
    root.mkdir(parents=True, exist_ok=True)
    martops("kpis", "generate", "--out", "campaign-exports", "--seed", "1", "--campaigns", "4", "--days", "14",
            "--force", cwd=root)
    martops("attribution", "generate", "--out", "challenge.db", "--conversions", "200", "--seed", "1", "--force",
            cwd=root)
    (root / "martops.yml").write_text(
        "warehouse:\n  path: warehouse.duckdb\n"
        f"sources:\n  attribution: {{path: {attribution_db}}}\n  campaigns: {{path: campaign-exports}}\n",
        encoding="utf-8")
    return root


def run_script(python: Path, script: str, cwd: Path, env: dict[str, str], timeout: int = 600) -> dict:
    """Run `script` with the orchestrator's python; it prints one JSON line last, returned here."""
    path = cwd / "orchestrate.py"
    path.write_text(script, encoding="utf-8")
    done = subprocess.run([str(python), str(path)], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "MARTOPS_BIN": str(MARTOPS), **env})
    (cwd / "orchestrate.log").write_text(done.stdout + done.stderr, encoding="utf-8")
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    assert done.returncode == 0 and lines, (done.stdout + done.stderr)[-6000:]
    return {**json.loads(lines[-1]), "log": done.stdout + done.stderr}


def runs(warehouse: Path) -> list[tuple]:
    """(step, since, until, status) of every step run in ops.runs, oldest first."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.sql("SELECT step, CAST(since AS VARCHAR), CAST(until AS VARCHAR), status FROM ops.runs "
                       "WHERE step <> 'check' ORDER BY started_at").fetchall()


def count(warehouse: Path, table: str) -> int:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.sql(f"SELECT count(*) FROM {table}").fetchone()[0]
