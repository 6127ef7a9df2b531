"""`martops kpis build`: a delivery of exports -> staging + quarantine -> snapshot -> KPI mart.

Three steps, each logged in `ops.runs` and each one transaction that commits with its checks or
not at all: load (staging, quarantine, the channel dictionary), snapshot (SCD2 history of the
reconciled daily facts) and mart (rebuilt from the snapshot's current versions). Re-running a
delivery gives the same staging, quarantine, snapshot and mart (no new snapshot versions).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Callable

import ibis
import ibis.expr.types as ir

from martops.campaigns import channels as C
from martops.campaigns import clean, funnels, mart, quality, reconcile
from martops.campaigns import tables as T
from martops.ops.cleaning_log import CleaningLog
from martops.campaigns.exports import FUNNEL_FILES, CampaignExports
from martops.checks import catalog
from martops.checks.core import CheckResult
from martops.checks.store import recorded
from martops.config import ProjectConfig
from martops.engine import Warehouse
from martops.ops import cleaning_log, quarantine, runlog
from martops.ops.runlog import current_run_id
from martops.domain import StepContext
from martops.errors import ConfigError
from martops.results import StepResult
from martops.snapshots import merge
from martops.sources.typed import annotate, quarantine_rows, reasons

SOURCE = "campaigns"
"""`ops.quarantine.source` for every delivery: re-deliveries from another folder replace by range."""


@dataclasses.dataclass
class Delivery:
    """What the load step found, for the steps after it."""

    run_id: str
    loaded_at: dt.datetime
    funnels: list[str]
    log: CleaningLog


def _scalars(wh: Warehouse, **exprs: ir.Scalar) -> dict:
    return wh.to_pyarrow(ibis.memtable({"_": [0]}).select(**exprs)).to_pylist()[0]


def _load_channels(wh: Warehouse, src: CampaignExports, spelling: ir.Table, log: CleaningLog,
                   run_id: str, now: dt.datetime) -> dict[str, int]:
    raw = src.raw("channels")
    ann = wh.materialize(annotate(raw, C.SPEC, check_duplicates=False), "_campaigns_channels_annotated")
    rows = wh.materialize(C.normalised(ann.filter(ann._ok), spelling), "_campaigns_channels_rows")
    resolved = C.resolve(rows).mutate(_etl_loaded_at=ibis.literal(now, type="timestamp"), _run_id=ibis.literal(run_id))
    C.log_counts(log, wh, raw, rows, resolved)
    wh.upsert(T.CHANNELS, resolved, ["campaign_id"])
    read = int(wh.scalar(raw.count()))
    loaded = int(wh.scalar(ann._ok.cast("int64").sum().fill_null(0)))
    bad = quarantine_rows(reasons(ann, C.SPEC), C.SPEC, SOURCE, run_id, now) if read != loaded else None
    return {"read": read, "loaded": loaded, "quarantined": quarantine.replace(wh, SOURCE, "channels", bad, None, None)}


def _log_funnel(log: CleaningLog, wh: Warehouse, file: str, staged: ir.Table, nan_cells: ir.Scalar) -> None:
    flags = {c: staged[c].cast("int64").sum().fill_null(0).as_scalar() for c in funnels.flag_columns(staged)}
    steps = quality.SALES_STEPS if file == "leads_funnel" else quality.WEB_STEPS
    broken = ibis.or_(*[staged[b] > staged[a] for a, b in zip(steps, steps[1:])]).fill_null(False)
    extra: dict[str, ir.Scalar] = {"nan_cells": nan_cells.as_scalar(), "broken": broken.cast("int64").sum().as_scalar()}
    if file == "leads_funnel":
        foreign = staged.filter(staged.currency != "EUR")
        extra.update(foreign=foreign.count().as_scalar(), foreign_spend=foreign.spend.notnull().sum().as_scalar(),
                     missing_spend=staged.spend.isnull().sum().as_scalar())
    s = _scalars(wh, **{k.lstrip("_"): v for k, v in flags.items()}, **extra)
    log.add(file, "text NaN/null in a measure read as missing", s["nan_cells"])
    log.add(file, "date holding a timestamp -> its date in sources.campaigns.reporting_timezone", s["date_from_timestamp"])
    log.add(file, "campaign_id '.000000' float suffix dropped", s["id_normalised"])
    log.add(file, "campaign_id filled from campaign_name", s.get("id_imputed", 0))
    log.add(file, "country_code blank/unknown -> unknown code", s["country_defaulted"])
    for c in C.SPELLED:
        log.add(file, f"{c} cleaned (spaces, case, spelling)", s.get(f"changed_{c}", 0))
    log.add(file, f"rows breaking the funnel order {' >= '.join(steps)} (kept; a warning)", s["broken"] or 0,
            always=True)
    if file == "leads_funnel":
        rates = wh.to_pyarrow(staged.filter(staged.currency != "EUR").select("currency", "fx_source").distinct()
                           .order_by(["currency", "fx_source"])).to_pylist()
        log.add(file, "rows in another currency (spend converted to EUR)", s["foreign"],
                "; ".join(f"{r['currency']}: {r['fx_source']}" for r in rates) + f"; {s['foreign_spend']} with spend")
        log.add(file, "rows without impressions, clicks or spend (kept; MAX() skips them)", s["missing_spend"])
        mapped = staged.filter(staged.product_raw.isnull() | (staged.product != staged.product_raw.strip().lower()))
        products = wh.to_pyarrow(mapped.group_by(["product_raw", "product"]).aggregate(n=mapped.count())
                                 .order_by([ibis.desc("n"), "product"])).to_pylist()
        log.add(file, "product spellings mapped", sum(r["n"] for r in products),
                ", ".join(f"{r['product_raw']!s} -> {r['product']} ({r['n']})" for r in products))


def _load_funnel(wh: Warehouse, src: CampaignExports, file: str, spelling: ir.Table, names: ir.Table,
                 project: ProjectConfig, log: CleaningLog, run_id: str, now: dt.datetime) -> dict[str, int]:
    cfg, settings = project.campaigns, project.sources.campaigns
    raw = src.raw(file)
    nan_cells = funnels.marker_cells(raw, file, settings)
    lims = funnels.limits(wh, raw, file, cfg, settings)
    if file == "leads_funnel":
        raw = funnels.with_ids_from_names(raw, names)
        raw = funnels.with_fx(raw, wh.to_loader(funnels.fx_rates(wh)), cfg, project.quality.fx_max_gap_days, settings)
    spec = funnels.spec(file, lims, cfg, funnels.currencies(wh, cfg), settings, funnels.country_codes(wh, raw, cfg))
    ann = wh.materialize(annotate(raw, spec, check_duplicates=False), f"_campaigns_{file}_annotated")
    staged = wh.materialize(funnels.staged(ann, file, spelling, cfg, run_id, now),
                            f"_campaigns_{file}_staged")
    span = _scalars(wh, lo=ann.t_date.min().as_scalar(), hi=ann.t_date.max().as_scalar(),
                    read=ann.count().as_scalar(), loaded=ann._ok.cast("int64").sum().fill_null(0).as_scalar())
    lo, hi = span["lo"], span["hi"]
    target = T.LEADS if file == "leads_funnel" else T.WEB
    keep = [c for c in staged.columns if c not in funnels.flag_columns(staged)]
    wh.ensure_table(target, staged.select(*keep).schema(), partition="date")
    if hi is not None:
        wh.delete_where(target, "date BETWEEN ? AND ?", [lo, hi])
    loaded = wh.insert(target, staged.select(*keep))
    _log_funnel(log, wh, file, staged, nan_cells)
    bad = quarantine_rows(reasons(ann, spec), spec, SOURCE, run_id, now) if span["read"] != loaded else None
    n_bad = quarantine.replace(wh, SOURCE, file, bad, lo, hi)
    if n_bad:
        by_col = quarantine.bad_columns(wh, SOURCE, file, top=20)
        log.add(file, "rows quarantined", n_bad, ", ".join(f"{c}: {n}" for c, n in by_col.items()))
    return {"read": span["read"], "loaded": loaded, "quarantined": n_bad, "lo": lo, "hi": hi}


def load(wh: Warehouse, folder: str | Path, project: ProjectConfig, results: list[CheckResult],
         log: CleaningLog) -> tuple[Delivery, dict]:
    """Channel dictionary and funnel files -> staging + quarantine, in one transaction."""
    run_id, now = current_run_id(), dt.datetime.now()
    src = CampaignExports(wh, folder, project.sources.campaigns)
    try:
        ch_raw = src.raw("channels")
        raws = [ch_raw] + ([src.raw("leads_funnel")] if "sales_assisted" in src.funnels else [])
        spelling = wh.materialize(clean.spellings(ibis.union(*[t.select(value=t[c]) for t in raws for c in C.SPELLED])),
                                  "_campaigns_spelling")
        names = wh.materialize(funnels.name_index(*[t.select("campaign_id", "campaign_name") for t in raws]),
                               "_campaigns_names")
        counts: dict[str, dict] = {}
        with wh.transaction():
            counts["channels"] = _load_channels(wh, src, spelling, log, run_id, now)
            for funnel, file in src.funnels.items():
                counts[file] = _load_funnel(wh, src, file, spelling, names, project, log, run_id, now)
            quarantine.account(wh, SOURCE, counts, project.quality, lambda file: (f"{file}.csv", "rows"))
            for file, c in counts.items():
                log.add(file, "rows read = loaded + quarantined", c["read"],
                        f"{c['read']:,} = {c['loaded']:,} + {c['quarantined']:,}", always=True)
            catalog.gate(wh, project, [T.CHANNELS, *[T.LEADS if f == "leads_funnel" else T.WEB
                                                      for f in src.funnels.values()]], results, quality.TABLE_CHECKS)
    finally:
        src.close()
    return Delivery(run_id, now, list(src.funnels), log), counts


def _run_rows(wh: Warehouse, table: str, run_id: str) -> ir.Table:
    t = wh.table(table)
    return t.filter(t._run_id == run_id)


def snapshot(wh: Warehouse, delivery: Delivery, project: ProjectConfig, results: list[CheckResult]) -> dict:
    """This delivery's rows reconciled to daily facts and merged into the SCD2 snapshot."""
    rows = {f: _run_rows(wh, T.LEADS if f == "sales_assisted" else T.WEB, delivery.run_id) for f in delivery.funnels}
    facts = wh.materialize(reconcile.daily_facts(rows, wh.table(T.CHANNELS)), "_campaigns_facts")
    n = _scalars(wh, facts=facts.count().as_scalar(), **reconcile.reconciled_counts(facts, delivery.funnels))
    log = delivery.log
    for f in delivery.funnels:
        file = FUNNEL_FILES[f]
        log.add(file, "duplicate rows at the grain reconciled by MAX()", n[f"{f}_rows"],
                f"{n[f'{f}_groups']:,} day x campaign x country groups held several rows", always=True)
    orphan_rows = facts.filter(~facts.in_dictionary).select("funnel", "campaign_id").distinct()
    for f in delivery.funnels:
        ids = sorted(r["campaign_id"] for r in wh.to_pyarrow(orphan_rows.filter(orphan_rows.funnel == f)).to_pylist())
        log.add(FUNNEL_FILES[f], "campaign ids missing from channels.csv", len(ids), ", ".join(ids), always=True)
    with wh.transaction():
        res = merge(wh, T.SNAPSHOT, facts, key="snapshot_key", grain=reconcile.GRAIN, values_hash="values_hash",
                    loaded_at=delivery.loaded_at, run_id=delivery.run_id)
        catalog.gate(wh, project, [T.SNAPSHOT], results, quality.TABLE_CHECKS)
    log.add("snapshot", "facts new / changed (new version, old closed) / unchanged", res.new + res.changed,
            f"{res.new:,} new, {res.changed:,} changed, {res.unchanged:,} unchanged", always=True)
    return {"facts": n["facts"], "new": res.new, "changed": res.changed, "unchanged": res.unchanged}


def build_mart(wh: Warehouse, project: ProjectConfig, results: list[CheckResult], log: CleaningLog | None = None) -> dict:
    """Daily, weekly and monthly KPI tables rebuilt from the snapshot's current versions."""
    snap = wh.table(T.SNAPSHOT)
    day = mart.daily(snap.filter(snap.valid_to.isnull()), project.campaigns.rolling_days)
    with wh.transaction():
        n = wh.create_or_replace(T.DAILY, day)
        wh.create_or_replace(T.WEEKLY, mart.rollup(wh.table(T.DAILY), "W"))
        wh.create_or_replace(T.MONTHLY, mart.rollup(wh.table(T.DAILY), "M"))
        catalog.gate(wh, project, [T.DAILY, T.WEEKLY, T.MONTHLY], results, quality.TABLE_CHECKS)
    if log is not None:
        d = wh.table(T.DAILY)
        for r in wh.to_pyarrow(mart.summary(d, ["funnel"]).select("funnel", "spend_eur")).to_pylist():
            log.add("mart", f"total spend EUR ({r['funnel']})", int(wh.scalar(d.filter(d.funnel == r["funnel"]).count())),
                    f"{r['spend_eur'] or 0:,.2f} EUR over the rows counted", always=True)
    return {"rows": n}


# -- the steps (declared in martops.campaigns.domain) ------------------------------------------
LOG_KEY = cleaning_log.state_key("kpis")
"""Where each step leaves its cleaning-log entries in `StepContext.state` (`build` returns them)."""


def _logged(ctx: StepContext, step: str, params: dict, fn: Callable[[CleaningLog], dict], rows_in: str | None,
            rows_out: str) -> StepResult:
    return cleaning_log.logged_step(ctx, "kpis", step, params, fn, rows_in, rows_out)


def step_load(ctx: StepContext) -> StepResult:
    folder = ctx.delivery("campaigns", "kpis.load")

    def go(log: CleaningLog) -> dict:
        with recorded(ctx.wh, current_run_id()) as results:
            delivery, counts = load(ctx.wh, folder, ctx.project, results, log)
        ctx.state["kpis.delivery"] = delivery
        return {k: sum(c[k] for c in counts.values()) for k in ("read", "loaded", "quarantined")}

    return _logged(ctx, "load", {"source": str(folder)}, go, "read", "loaded")


def last_delivery(wh: Warehouse, log: CleaningLog) -> Delivery:
    """The delivery of the last successful `kpis.load`, read back from staging (its `_run_id`), so
    `kpis.snapshot` can run on its own after a load in another invocation."""
    runs = [r for r in runlog.recent(wh, limit=50, step="kpis.load") if r["status"] == "success"]
    if not runs:
        raise ConfigError("kpis.snapshot: no delivery has been loaded into this warehouse yet; "
                          "run kpis.load first (martops run kpis --source FOLDER)")
    run_id = runs[0]["run_id"]
    funnels, stamps = [], []
    for funnel, table in (("sales_assisted", T.LEADS), ("web", T.WEB)):
        if wh.exists(table):
            rows = _run_rows(wh, table, run_id)
            got = _scalars(wh, n=rows.count().as_scalar(), at=rows._etl_loaded_at.max().as_scalar())
            if got["n"]:
                funnels.append(funnel)
                stamps.append(got["at"])
    if not funnels:
        raise ConfigError(f"kpis.snapshot: the last load (run {run_id}) left no funnel rows in staging; run kpis.load again")
    return Delivery(run_id, max(stamps), funnels, log)


def step_snapshot(ctx: StepContext) -> StepResult:
    def go(log: CleaningLog) -> dict:
        kept = ctx.state.get("kpis.delivery")
        delivery = dataclasses.replace(kept, log=log) if kept else last_delivery(ctx.wh, log)
        with recorded(ctx.wh, current_run_id()) as results:
            return snapshot(ctx.wh, delivery, ctx.project, results)

    return _logged(ctx, "snapshot", {}, go, "facts", "new")


def step_mart(ctx: StepContext) -> StepResult:
    def go(log: CleaningLog) -> dict:
        if not ctx.wh.exists(T.SNAPSHOT):
            raise ConfigError(f"kpis.mart: {T.SNAPSHOT} does not exist yet; run kpis.load and kpis.snapshot first "
                              "(martops run +kpis.mart --source FOLDER)")
        with recorded(ctx.wh, current_run_id()) as results:
            return build_mart(ctx.wh, ctx.project, results, log)

    return _logged(ctx, "mart", {}, go, "rows", "rows")


def build(wh: Warehouse, folder: str | Path, project: ProjectConfig,
          on_step: Callable[[str], None] | None = None) -> tuple[list[StepResult], CleaningLog]:
    """All three steps for one delivery, through the step graph (as `martops run kpis`); the first
    failure is raised after the cleaning log is written. For library callers and tests."""
    from martops import domains

    graph = domains.graph()
    ctx = StepContext(wh, project, params={"source": str(folder)})
    names = graph.select(["kpis"])
    report = domains.run(ctx, names, run_id=current_run_id(),
                        on_start=(lambda step: on_step(step.name.split(".", 1)[1])) if on_step else None)
    report.raise_first()
    return report.results, ctx.state.get(LOG_KEY, CleaningLog("kpis"))
