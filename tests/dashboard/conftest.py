"""Warehouses for the dashboard tests, built by the real commands: one with every domain that has a
report section (the report tests' warehouse plus CRM, usage and lead scores), one with the campaign
mart only (every other section must say what loads it)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tests.cli_runner import run_cli_unfixtured
from tests.crm.folders import write_folder
from tests.leads import data as leads_data
from tests.reports.conftest import build_demo_warehouse


@dataclasses.dataclass(frozen=True)
class Project:
    warehouse: Path
    config: Path


def _ok(*args) -> None:
    res = run_cli_unfixtured(*args)
    assert res.code == 0, (args, res.err[-2000:])


@pytest.fixture(scope="package")
def full(tmp_path_factory) -> Project:
    """Attribution (ihc and linear), campaign KPIs and loyalty as the report tests build them, plus a
    CRM extract, a usage database and a lead-scoring run; the project file holds the leads settings."""
    root = tmp_path_factory.mktemp("dashboard-full")
    wh = root / "warehouse.duckdb"
    config = root / "martops.yml"
    config.write_text(leads_data.CONFIG)
    leads_data.write(root / "leads.csv", leads_data.rows(300))
    # leads first: `leads train` on a warehouse holding sessions that match no lead fails (an all-empty
    # behaviour feature breaks gradient boosting's binning), a leads-domain defect outside these tests
    _ok("leads", "train", "--input", root / "leads.csv", "--as-of", "2024-06-30", "--warehouse", wh, "--config", config)
    _ok("leads", "score", "--input", root / "leads.csv", "--as-of", "2024-06-30", "--warehouse", wh,
        "--config", config)
    assert build_demo_warehouse(root) == wh
    write_folder(root / "crm")
    _ok("crm", "build", "--source", root / "crm", "--warehouse", wh)
    _ok("usage", "generate", "--out", root / "usage.db", "--users", "300", "--seed", "5")
    _ok("usage", "build", "--source", root / "usage.db", "--warehouse", wh)
    return Project(wh, config)


@pytest.fixture(scope="package")
def kpis_only(tmp_path_factory) -> Project:
    root = tmp_path_factory.mktemp("dashboard-kpis")
    wh = root / "warehouse.duckdb"
    _ok("kpis", "generate", "--out", root / "exports", "--seed", "4", "--start", "2023-08-01", "--days", "30")
    _ok("kpis", "build", "--source", root / "exports", "--warehouse", wh)
    config = root / "martops.yml"
    config.write_text("warehouse: {path: warehouse.duckdb}\n")
    return Project(wh, config)
