"""Data health for a report: every check run now on the warehouse as it is, source freshness and
quarantined rows, and whether the report may be published.

The gate is the checks' own verdict: a report is blocked when an error-severity check fails
(`CheckResult.blocking`), and staleness is such a check (every staging table's `_loaded_at`
freshness, error after `quality.freshness_error_after_hours`). The checks are run, not read from
`ops.check_results`, so a report never vouches for data that changed after the last check; their
results are not recorded (the report opens the warehouse read-only).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from martops.checks import catalog as C
from martops.checks.core import CheckResult, run_checks
from martops.config import ProjectConfig
from martops.engine import Warehouse
from martops.ops.status import SourceStatus, Sources, source_status
from martops.reports.blocks import Column, Metric, Section, Table


@dataclasses.dataclass
class Health:
    results: list[CheckResult]
    sources: list[SourceStatus]
    checked_at: dt.datetime

    @property
    def not_passed(self) -> list[CheckResult]:
        return [r for r in self.results if r.status != "pass"]

    @property
    def blockers(self) -> list[str]:
        """One line per reason the report must not be published."""
        return [f"{r.table}: {r.check} {r.status} ({r.failing_count:,} failing row(s))" if r.status == "fail"
                else f"{r.table}: {r.check} {r.status}: {r.message}" for r in self.results if r.blocking]


def assess(wh: Warehouse, cfg: ProjectConfig, known: C.Catalog, sources: Sources) -> Health:
    """ConfigError when martops.yml's `checks:` names a table that does not exist (a typo must not
    pass as a check that found nothing), as `martops check` does."""
    C.check_declared(wh, cfg, known)
    checks = [c for name in C.tables(cfg, known) if wh.exists(name)
              for c in C.for_table(wh, cfg, name, known.builtins)]
    return Health(run_checks(wh, checks), source_status(wh, cfg, sources), dt.datetime.now())


def section(health: Health, checked: str = "when the report was built") -> Section:
    stamp = health.checked_at.strftime("%Y-%m-%d %H:%M")
    out = Section("health", "Data health", f"checked {checked}, {stamp}")
    bad = health.not_passed
    out.metrics = [
        Metric("health.checks", "Checks run", len(health.results), unit="count", compare=False),
        Metric("health.not_passed", "Checks not passed", len(bad), unit="count", compare=False),
        Metric("health.quarantined", "Quarantined rows", sum(s.quarantined for s in health.sources),
               unit="count", compare=False),
    ]
    if bad:
        out.tables.append(Table("health.checks", "Checks that did not pass", [
            Column("status", "Status", "text"), Column("table", "Table", "text"), Column("check", "Check", "text"),
            Column("failing_count", "Failing rows", "count"), Column("message", "Message", "text")],
            [{"status": r.status, "table": r.table, "check": r.check, "failing_count": r.failing_count,
              "message": r.message or ""} for r in bad]))
    else:
        out.notes.append(f"All {len(health.results):,} checks passed.")
    out.tables.append(Table("health.sources", "Sources", [
        Column("table", "Staging table", "text"), Column("rows", "Rows", "count"),
        Column("loaded_at", "Last load", "text"), Column("freshness", "Freshness", "text"),
        Column("quarantined", "Quarantined rows", "count")],
        [{"table": s.table, "rows": s.rows, "loaded_at": s.loaded_at.strftime("%Y-%m-%d %H:%M") if s.loaded_at else "",
          "freshness": s.freshness, "quarantined": s.quarantined} for s in health.sources if s.freshness != "missing"]))
    return out
