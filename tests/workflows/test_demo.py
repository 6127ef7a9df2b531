"""The demo project's onboarding workflow, as `make demo` runs it: a dry run on the generated usage
data with nothing listening on 127.0.0.1 (no network, no server), that touches nothing, and the
schedule that runs the step every five minutes."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import martops
from martops import domains
from martops.config import load_config
from tests.cli_runner import run_cli

DEMO = Path(martops.__file__).parent / "demo" / "project.yml"


def test_the_demo_dry_run_needs_no_server_and_touches_nothing(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(DEMO, tmp_path / "martops.yml")
    assert run_cli(capsys, "usage", "generate", "--out", "usage.db", "--users", "2000", "--seed", "7").code == 0
    assert run_cli(capsys, "run", "usage").code == 0
    before = hashlib.sha256((tmp_path / "warehouse.duckdb").read_bytes()).hexdigest()
    out = run_cli(capsys, "workflows", "run", "--dry-run", "--now", "2024-12-31T09:00")
    assert out.code == 0, out.err
    assert hashlib.sha256((tmp_path / "warehouse.duckdb").read_bytes()).hexdigest() == before
    sends = out.out.count("would send: onboarding")
    assert sends >= 3 and out.out.count("would post: onboarding") == sends
    assert "Subject: Welcome to Acme, " in out.out and "POST http://127.0.0.1:8026/hooks/sales" in out.out
    assert "test+" not in out.out and "qa." not in out.out  # test accounts are left out by the trigger
    assert out.out.count("waiting: onboarding") == sends and "until 2025-01-02 09:00" in out.out


def test_the_demo_schedules_the_workflows_step_every_five_minutes():
    cfg = load_config(DEMO)
    schedule = next(s for s in cfg.schedules if s.name == "workflows")
    assert schedule.cron == "*/5 * * * *" and schedule.select == ["workflows"]
    assert domains.graph().select(schedule.select) == ["workflows.run"]
    assert "workflows" not in [d.name for d in domains.configured(cfg)]  # a bare `martops run` sends nothing
