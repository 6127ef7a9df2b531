"""`martops status`: per staging table, how fresh it is, its last load and what was quarantined."""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
from typing import Iterable

import ibis

from martops.config import ProjectConfig
from martops.engine import Warehouse
from martops.errors import ConfigError
from martops.ops import quarantine, runlog


@dataclasses.dataclass(frozen=True)
class SourceStatus:
    table: str
    rows: int
    loaded_at: dt.datetime | None
    age_hours: float | None
    freshness: str
    """fresh, warn (older than the warn threshold), stale (older than the error one), empty, missing."""
    last_run: dict | None
    quarantined: int


Sources = list[tuple[dict[str, tuple[str, ...]], str]]
"""(staging table -> its `ops.quarantine.table_name`s, the step that loads them) per domain
(`martops.domains.status_sources()`)."""


def freshness_label(age_hours: float | None, cfg: ProjectConfig) -> str:
    if age_hours is None:
        return "empty"
    if age_hours > cfg.quality.freshness_error_after_hours:
        return "stale"
    if age_hours > cfg.quality.freshness_warn_after_hours:
        return "warn"
    return "fresh"


def source_status(wh: Warehouse, cfg: ProjectConfig, domains: Sources,
                  now: dt.datetime | None = None) -> list[SourceStatus]:
    """Per staging table of every domain in use (all of them when the warehouse is new)."""
    now = now or dt.datetime.now()
    used = [d for d in domains if any(wh.exists(t) for t in d[0])] or domains
    return [s for tables, step in used for s in _domain_status(wh, cfg, tables, step, now)]


def _domain_status(wh: Warehouse, cfg: ProjectConfig, tables: dict[str, tuple[str, ...]], step: str,
                   now: dt.datetime) -> list[SourceStatus]:
    from martops.checks.catalog import load_column

    last = runlog.recent(wh, limit=1, step=step)
    last_run = last[0] if last else None
    out = []
    for table, source_tables in tables.items():
        if not wh.exists(table):
            out.append(SourceStatus(table, 0, None, None, "missing", last_run, 0))
            continue
        t = wh.table(table)
        column = load_column(t)
        loaded = t[column].max() if column in t.columns else ibis.null("timestamp")
        stats = wh.to_pyarrow(t.aggregate(rows=t.count(), loaded_at=loaded)).to_pylist()[0]
        loaded_at = stats["loaded_at"]
        age = None if loaded_at is None else (now - loaded_at).total_seconds() / 3600
        n_bad = 0
        if wh.exists(quarantine.QUARANTINE):
            q = wh.table(quarantine.QUARANTINE)
            n_bad = int(wh.scalar(q.filter(q.table_name.isin(list(source_tables))).count()))
        out.append(SourceStatus(table, int(stats["rows"]), loaded_at, age, freshness_label(age, cfg),
                                last_run, n_bad))
    return out


def quarantined_rows(wh: Warehouse, table: str | None = None, limit: int = 50,
                     known: Iterable[str] = ()) -> list[dict]:
    """The newest quarantined rows, of `table` only if given. A `table` that is neither one of
    `known` (the tables the domains quarantine into) nor in ops.quarantine is a ConfigError naming
    the nearest (a typo must not read as "nothing quarantined")."""
    names = sorted({*known, *quarantine_tables(wh)}) if table else []
    if table and table not in names:
        by_lower = {n.lower(): n for n in names}
        close = [by_lower[c] for c in difflib.get_close_matches(table.lower(), list(by_lower), n=3, cutoff=0.6)]
        hint = f"did you mean {' or '.join(close)}?" if close else f"the source tables are {', '.join(names)}"
        raise ConfigError(f"--table {table!r} is not a source table martops quarantines rows of; {hint}")
    if not wh.exists(quarantine.QUARANTINE):
        return []
    q = wh.table(quarantine.QUARANTINE)
    if table:
        q = q.filter(q.table_name == table)
    q = q.order_by([ibis.desc("quarantined_at"), "table_name", "row_number"]).limit(limit)
    return wh.to_pyarrow(q).to_pylist()


def quarantine_tables(wh: Warehouse) -> list[str]:
    """The distinct `table_name`s ops.quarantine holds (none when it does not exist)."""
    if not wh.exists(quarantine.QUARANTINE):
        return []
    q = wh.table(quarantine.QUARANTINE)
    return sorted(r["table_name"] for r in wh.to_pyarrow(q.select("table_name").distinct()).to_pylist())
