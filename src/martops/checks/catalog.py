"""Which checks a table gets: its domain's built-in checks plus those `martops.yml` declares.

Domains list their built-ins in a `quality` module (`attribution/quality.py`, ...) and declare them
on their `Domain`; `martops.domains.catalog()` gathers them into a `Catalog`. This module imports no
domain: a step's gate is handed its domain's built-ins, `martops check` the whole catalog.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import fnmatch
from typing import Callable, Iterable, Mapping

import ibis.expr.types as ir

from martops.checks import builders as B
from martops.checks.core import Check, CheckResult, enforce, run_checks
from martops.checks.specs import (AcceptedValues, CheckSpec, Expression, Freshness, MonotonicFunnel, NotNull,
                                  Range, Relationships, RowCount, SumsTo, Unique)
from martops.checks import store
from martops.checks.store import previous_observation
from martops.ops import cleaning_log, quarantine, runlog
from martops.config import ProjectConfig, QualityConfig
from martops.engine import SCHEMAS, Warehouse
from martops.errors import ConfigError

BuiltIn = Callable[[ir.Table, str, QualityConfig], list[Check]]


@dataclasses.dataclass(frozen=True)
class Catalog:
    """Built-in checks per table, and every table martops writes (a `checks:` key naming none of
    them, nor a table of the warehouse, is a typo)."""

    builtins: Mapping[str, BuiltIn]
    tables: frozenset[str]


def from_spec(wh: Warehouse, name: str, table: ir.Table, spec: CheckSpec, now: dt.datetime) -> list[Check]:
    sev = spec.severity
    if isinstance(spec, NotNull):
        return [B.not_null(table, name, spec.columns, sev)]
    if isinstance(spec, Unique):
        return [B.unique(table, name, spec.columns, sev)]
    if isinstance(spec, AcceptedValues):
        return [B.accepted_values(table, name, spec.column, spec.values, sev)]
    if isinstance(spec, Relationships):
        if not wh.exists(spec.to):
            return [Check(f"relationships({spec.column} -> {spec.to}.{spec.field})", name, None, sev,
                          problem=f"table {spec.to} does not exist in the warehouse")]
        return [B.relationships(table, name, spec.column, wh.table(spec.to), spec.to, spec.field, sev)]
    if isinstance(spec, Range):
        return [B.value_range(table, name, spec.column, spec.min, spec.max, sev)]
    if isinstance(spec, Expression):
        def sql(cond: str) -> ir.Table:
            return wh.backend.sql(f"SELECT * FROM {wh.quoted(name)} WHERE {cond}", dialect=wh.dialect)
        return [B.expression(table, name, spec.expr, sql, spec.name, sev)]
    if isinstance(spec, RowCount):
        prev = previous_observation(wh, name, "row_count(") if spec.max_drop_pct else None
        return [B.row_count(table, name, spec.min, spec.max_drop_pct, None if prev is None else int(prev), sev)]
    if isinstance(spec, Freshness):
        out = []
        if spec.warn_after_hours:
            out.append(B.freshness(table, name, spec.column, spec.warn_after_hours, now, "warn"))
        if spec.error_after_hours:
            out.append(B.freshness(table, name, spec.column, spec.error_after_hours, now, "error"))
        return out
    if isinstance(spec, MonotonicFunnel):
        return [B.monotonic_funnel(table, name, spec.columns, sev)]
    if isinstance(spec, SumsTo):
        return [B.sums_to(table, name, group_by=spec.group_by, column=spec.column, value=spec.value,
                          tolerance=spec.tolerance, severity=sev)]
    raise TypeError(f"unhandled check spec {spec!r}")  # pragma: no cover - specs.KINDS is exhaustive


LOAD_COLUMNS = ("_loaded_at", "_etl_loaded_at")
"""The load timestamp a staging table carries (campaign exports keep the seed's `_etl_loaded_at`)."""


def load_column(table: ir.Table) -> str:
    return next((c for c in LOAD_COLUMNS if c in table.columns), LOAD_COLUMNS[0])


def quality_specs(quality: QualityConfig, column: str = LOAD_COLUMNS[0]) -> list[CheckSpec]:
    """Checks every staging table gets from `quality:` (freshness of the load, no sudden shrink)."""
    return [
        Freshness(column=column, warn_after_hours=quality.freshness_warn_after_hours,
                  error_after_hours=quality.freshness_error_after_hours),
        RowCount(min=quality.row_count_min, max_drop_pct=quality.row_count_max_drop_pct),
    ]


def for_table(wh: Warehouse, cfg: ProjectConfig, name: str, builtins: Mapping[str, BuiltIn], *,
              in_step: bool = False, now: dt.datetime | None = None) -> list[Check]:
    """Built-in + declared checks for one table. `in_step`: leave out freshness (just loaded)."""
    now = now or dt.datetime.now()
    table = wh.table(name)
    checks: list[Check] = []
    builtin = builtins.get(name)
    if builtin is not None:
        checks += builtin(table, name, cfg.quality)
        if name.startswith("staging."):
            for spec in quality_specs(cfg.quality, load_column(table)):
                checks += from_spec(wh, name, table, spec, now)
    checks += declared(wh, cfg, name, now)
    if in_step:
        checks = [c for c in checks if not c.name.startswith("freshness(")]
    return checks


def declared(wh: Warehouse, cfg: ProjectConfig, name: str, now: dt.datetime | None = None) -> list[Check]:
    """The checks `martops.yml` declares for one table."""
    table, now = wh.table(name), now or dt.datetime.now()
    return [c for spec in cfg.checks.get(name, []) for c in from_spec(wh, name, table, spec, now)]


def tables(cfg: ProjectConfig, catalog: Catalog) -> list[str]:
    """Every table that has checks (built-in or declared), in a stable order."""
    return sorted(set(catalog.builtins) | set(cfg.checks))


OPS_TABLES = frozenset({runlog.RUNS, quarantine.QUARANTINE, cleaning_log.CLEANING_LOG, store.CHECK_RESULTS})
"""Tables of the ops schema that every domain writes (no domain declares them)."""


def check_declared(wh: Warehouse, cfg: ProjectConfig, catalog: Catalog) -> None:
    """A table under `checks:` that is neither in the warehouse nor one martops writes is a typo:
    ConfigError naming it, the nearest known name and every known one. (A table martops writes but
    this warehouse does not hold yet is fine: its checks run once a step builds it.)"""
    missing = [name for name in cfg.checks if not wh.exists(name)]
    if not missing:
        return
    known = set(catalog.tables | OPS_TABLES)
    for schema in SCHEMAS:
        known.update(f"{schema}.{t}" for t in wh.backend.list_tables(database=schema))
    unknown = [name for name in missing if name not in known]
    if not unknown:
        return
    lines = []
    for name in unknown:
        near = difflib.get_close_matches(name, known, n=1)
        lines.append(f"martops.yml checks: there is no table {name!r}" + (f" (did you mean {near[0]}?)" if near else ""))
    raise ConfigError("; ".join(lines) + f". Known tables: {', '.join(sorted(known))}")


def select(checks: Iterable[Check], pattern: str | None) -> list[Check]:
    """`--select`: a glob on the table (`staging.*`), the check (`unique*`) or `table:check`."""
    if not pattern:
        return list(checks)
    return [c for c in checks if fnmatch.fnmatch(c.table, pattern) or fnmatch.fnmatch(c.name, pattern)
            or fnmatch.fnmatch(f"{c.table}:{c.name}", pattern)]


def gate(wh: Warehouse, project: ProjectConfig, names: Iterable[str], results: list[CheckResult],
         builtins: Mapping[str, BuiltIn]) -> None:
    """Inside a step's transaction: run the tables' checks (`builtins`: the domain's) into
    `results`; a blocking failure raises. Pair with `store.recorded` outside the transaction so the
    results survive the rollback. (`martops run` checks `checks:` for typos before any step.)
    """
    for name in names:
        results += run_checks(wh, for_table(wh, project, name, builtins, in_step=True))
    enforce(results)
