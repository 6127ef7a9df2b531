"""`ops.cleaning_log`: what each cleaning rule did to a delivery, so no fix is silent.

One row per (run, domain, file, rule): how many rows the rule touched and an example (a value, a
list of ids, a row number). Each domain's build (`kpis build`, `crm build`) prints its own rows; the
closing figures of a delivery (rows in/out/quarantined, orphans, duplicates) are all here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import ibis

from typing import Any, Callable

from martops.engine import Warehouse
from martops.ops import runlog
from martops.results import StepResult

CLEANING_LOG = "ops.cleaning_log"

SCHEMA = ibis.schema({
    "run_id": "string", "logged_at": "timestamp", "seq": "int64", "file": "string", "rule": "string",
    "rows": "int64", "example": "string", "domain": "string",
})


@dataclasses.dataclass
class Entry:
    file: str
    rule: str
    rows: int
    example: str | None = None


@dataclasses.dataclass
class CleaningLog:
    domain: str
    """Which build wrote the rows (`kpis`, `crm`), so each build's `cleaning` view finds its own."""
    entries: list[Entry] = dataclasses.field(default_factory=list)

    def add(self, file: str, rule: str, rows: int, example: object = None, *, always: bool = False) -> None:
        """Log a rule's count; zero counts are kept only when `always` (the headline figures)."""
        if rows or always:
            self.entries.append(Entry(file, rule, int(rows), None if example in (None, "", []) else str(example)))

    def get(self, file: str, rule: str) -> int:
        return sum(e.rows for e in self.entries if e.file == file and e.rule == rule)

    def write(self, wh: Warehouse, run_id: str) -> int:
        if not self.entries:
            return 0
        now = dt.datetime.now()
        rows = {
            "run_id": [run_id] * len(self.entries), "logged_at": [now] * len(self.entries),
            "seq": list(range(len(self.entries))),
            "file": [e.file for e in self.entries], "rule": [e.rule for e in self.entries],
            "rows": [e.rows for e in self.entries], "example": [e.example for e in self.entries], "domain": [self.domain] * len(self.entries),
        }
        wh.ensure_table(CLEANING_LOG, SCHEMA)
        return wh.insert(CLEANING_LOG, ibis.memtable(rows, schema=SCHEMA))


def of_run(wh: Warehouse, run_id: str, file_order: tuple[str, ...] = ()) -> list[dict]:
    """A run's entries grouped by file in the order data flows, each file's in the order logged."""
    if not wh.exists(CLEANING_LOG):
        return []
    t = wh.table(CLEANING_LOG)
    rows = wh.to_pyarrow(t.filter(t.run_id == run_id).order_by(["logged_at", "seq"])).to_pylist()
    rank = {f: i for i, f in enumerate(file_order)}
    return sorted(rows, key=lambda r: rank.get(r["file"], len(rank)))


def last_run(wh: Warehouse, domain: str) -> str | None:
    """The newest run of `domain`; rows from before the domain column count as `kpis`."""
    if not wh.exists(CLEANING_LOG):
        return None
    t = wh.table(CLEANING_LOG)
    if "domain" in t.columns:
        t = t.filter(t.domain.fill_null("kpis") == domain)
    rows = wh.to_pyarrow(t.order_by(ibis.desc("logged_at")).limit(1).select("run_id")).to_pylist()
    return rows[0]["run_id"] if rows else None


def state_key(domain: str) -> str:
    """Where a domain's steps gather their entries in `StepContext.state` (a build prints them)."""
    return f"{domain}.cleaning_log"


def logged_step(ctx: Any, domain: str, step: str, params: dict, fn: Callable[[CleaningLog], dict],
                rows_in: str | None, rows_out: str) -> StepResult:
    """Run a step in ops.runs (`runlog.timed`, counts kept) with a fresh log handed to `fn`; its
    entries are written even when the step fails (the rules that ran before the failure are
    facts too) and gathered in `ctx.state[state_key(domain)]`. `ctx` is a `martops.domain.StepContext`."""
    log = CleaningLog(domain)
    try:
        return runlog.timed(ctx.wh, domain, step, params, lambda: fn(log), rows_in, rows_out, keep_counts=True)
    finally:
        log.write(ctx.wh, runlog.current_run_id())
        ctx.state.setdefault(state_key(domain), CleaningLog(domain)).entries.extend(log.entries)
