"""`martops usage build`: a delivery (people, events) -> staging + quarantine -> the usage marts.

Each step is one transaction that commits with its checks or not at all. The marts are rebuilt whole
from staging as of one date (`--as-of`, `usage.as_of`, else the last event's day), so re-running the
build gives the same tables (`_etl_loaded_at`/`_run_id` aside).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from martops.checks import catalog
from martops.checks.store import recorded
from martops.config import ProjectConfig
from martops.domain import StepContext, require_input
from martops.engine import Warehouse
from martops.ops import cleaning_log
from martops.ops.cleaning_log import CleaningLog
from martops.ops.runlog import current_run_id
from martops.results import StepResult
from martops.usage import load as loading
from martops.usage import marts, quality
from martops.usage import tables as T

LOG_KEY = cleaning_log.state_key("usage")


def build_marts(ctx: StepContext, results: list, log: CleaningLog) -> dict:
    wh, project = ctx.wh, ctx.project
    w = marts.window(wh, project, ctx.param("as_of"))
    log.add("marts", "as-of point and windows", 1, w.describe(), always=True)
    out: dict[str, object] = {}
    with wh.transaction():
        expr, cust_cuts = marts.customers(wh, project, w, log)
        out["customers"] = wh.create_or_replace(T.CUSTOMERS, expr)
        cust = wh.table(T.CUSTOMERS)
        expr, comp_cuts = marts.companies(wh, project, w, cust)
        out["companies"] = wh.create_or_replace(T.COMPANIES, expr)
        comp = wh.table(T.COMPANIES)
        out["event_types"] = wh.create_or_replace(T.EVENT_TYPES, marts.event_types(wh, w, cust, comp))
        out["tiers"] = wh.create_or_replace(T.TIERS, marts.tiers(wh, project, w, cust, comp, cust_cuts, comp_cuts))
        out["retention"] = wh.create_or_replace(T.RETENTION, marts.retention(wh, w, cust, log))
        catalog.gate(wh, project, list(T.MARTS), results, quality.TABLE_CHECKS)
    s = wh.to_pyarrow(cust.aggregate(
        excluded=cust.excluded.cast("int64").sum(), nocompany=cust.company.isnull().cast("int64").sum(),
        never=(cust.interactions == 0).cast("int64").sum())).to_pylist()[0]
    log.add("marts", "customers", out["customers"], always=True)
    log.add("marts", "bot or test accounts excluded from tiers, companies and retention", s["excluded"] or 0,
            always=True)
    log.add("marts", "customers with no interaction by the as-of date (dormant, or new)", s["never"] or 0)
    log.add("marts", "companies", out["companies"], "none: the source names no company" if not out["companies"]
            else None, always=True)
    out["as_of"] = w.as_of.isoformat() if w.as_of else marts.month_label(w.as_of_month, w.calendar)
    return out


def _logged(ctx: StepContext, step: str, params: dict, fn, rows_in: str | None, rows_out: str) -> StepResult:
    return cleaning_log.logged_step(ctx, "usage", step, params, fn, rows_in, rows_out)


def step_load(ctx: StepContext) -> StepResult:
    source = ctx.delivery("usage", "usage.load")

    def go(log: CleaningLog) -> dict:
        with recorded(ctx.wh, current_run_id()) as results:
            counts = loading.load(ctx.wh, source, ctx.project, results, log)
        return {"read": sum(c["read"] for c in counts.values()), "loaded": sum(c["loaded"] for c in counts.values()),
                "quarantined": sum(c["quarantined"] for c in counts.values()),
                "copies_dropped": counts["events"]["copies"], "untyped_events": counts["events"]["untyped"]}

    return _logged(ctx, "load", {"source": str(source)}, go, "read", "loaded")


def step_marts(ctx: StepContext) -> StepResult:
    require_input(ctx, "usage.marts", T.STAGING_EVENTS)

    def go(log: CleaningLog) -> dict:
        with recorded(ctx.wh, current_run_id()) as results:
            return build_marts(ctx, results, log)

    as_of = ctx.param("as_of")
    return _logged(ctx, "marts", {"as_of": str(as_of)} if as_of else {}, go, None, "customers")


def build(wh: Warehouse, source: str | Path, project: ProjectConfig, as_of: dt.date | None = None
          ) -> tuple[list[StepResult], CleaningLog]:
    """The usage steps for one delivery through the step graph (as `martops run usage`); the first
    failure is raised after the cleaning log is written. For library callers and tests."""
    from martops import domains

    ctx = StepContext(wh, project, params={"source": str(source), "as_of": as_of})
    report = domains.run(ctx, domains.graph().select(["usage"]), run_id=current_run_id())
    report.raise_first()
    return report.results, ctx.state.get(LOG_KEY, CleaningLog("usage"))
