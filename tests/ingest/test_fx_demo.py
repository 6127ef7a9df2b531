"""The demo project schedules fx daily but keeps it out of `make demo`'s bare `martops run` (no network)."""

from __future__ import annotations

from pathlib import Path

import martops
from martops import domains
from martops.cli.platform import selection
from martops.config import load_config

DEMO = Path(martops.__file__).parent / "demo" / "project.yml"


def test_the_demo_schedules_fx_daily_and_its_bare_run_leaves_it_out():
    cfg = load_config(DEMO)
    schedule = next(s for s in cfg.schedules if s.name == "fx-daily")
    assert schedule.cron == "0 17 * * *" and domains.graph().select(schedule.select) == ["fx.load"]
    assert not cfg.ingest.fx.in_project_run
    assert "fx.load" not in selection(cfg, [], [], [], None)
    assert cfg.ingest.fx.url == "https://api.frankfurter.dev/v1"
