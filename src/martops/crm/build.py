"""`martops crm build`: a CRM delivery -> staging (raw + standardised, every copy) -> `crm.*` (one row per id).

The load step is one transaction that commits with its checks or not at all. A delivery is a full
extract of each role it holds: it replaces that role's staging rows and quarantine rows (re-running
the same folder gives identical tables, `_etl_loaded_at`/`_run_id` aside); a role it does not hold
keeps the previous delivery's rows. `crm.*` is rebuilt from staging every time. Then `marts`
rebuilds the analysis marts (`martops.crm.marts`) from `crm.*`; the Splink steps (`crm.dedupe`,
`crm.golden`) go between the two, so the marts count golden customers.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Callable

import ibis
import ibis.expr.types as ir

from martops.checks import catalog
from martops.checks.core import CheckResult
from martops.checks.store import recorded
from martops.config import CrmConfig, ProjectConfig
from martops.crm import customer_dedupe, integrity, marts, phones, quality, report, roles, survivorship
from martops.crm import tables as T
from martops.crm.source import CrmFolder
from martops.engine import Warehouse
from martops.ops import cleaning_log, quarantine
from martops.ops.cleaning_log import CleaningLog
from martops.ops.runlog import current_run_id
from martops.domain import StepContext, require_input
from martops.results import StepResult
from martops.sources import countries, spelling
from martops.sources.typed import ROW, annotate, quarantine_rows, reasons, with_place

TRAILER = ("row_hash", "completeness", "duplicate_rows", "duplicate_kind", "is_survivor", "survivor_row",
           "_etl_loaded_at", "_run_id")


def lookups(wh: Warehouse, raws: dict[str, ir.Table], cfg: CrmConfig) -> roles.Lookups:
    """Countries, phones (read in the row's country) and spellings, each computed once over the
    delivery's distinct values."""
    lk = roles.Lookups()
    names: list[str] = []
    for role in ("customers", "countries"):
        if role in raws:
            names += wh.to_pyarrow(raws[role].select("country").distinct()).column("country").to_pylist()
    lk.countries = wh.materialize(countries.lookup(names, cfg.country_aliases, cfg.unknown_country), "_crm_countries")
    if "customers" in raws:
        c = roles.with_country(raws["customers"], "country", lk, cfg)
        numbers = c.select(phone=c.phone, region=phones.region(c._iso, cfg.default_region, cfg.unknown_country))
        lk.phones = wh.materialize(phones.lookup(wh, numbers), "_crm_phones")
    for role, col in (("products", "category"), ("sales_team", "region")):
        if role in raws:
            rows = wh.to_pyarrow(spelling.spellings(raws[role].select(value=raws[role][col]))).to_pylist()
            lk.spellings[col] = {r["key"]: r["canonical"] for r in rows}
    return lk


def _load_role(wh: Warehouse, src: CrmFolder, role: str, raw: ir.Table, lk: roles.Lookups, cfg: CrmConfig,
               log: CleaningLog, run_id: str, now: dt.datetime) -> dict[str, int]:
    spec = roles.spec(role, raw.columns, src.settings)
    ann = wh.materialize(annotate(raw, spec, check_duplicates=False), f"_crm_{role}_annotated")
    st = roles.staged(role, ann.filter(ann._ok), lk, cfg)
    st = survivorship.resolve(st, roles.KEYS[role], roles.RAW_COLUMNS[role], roles.completeness(st, role, cfg),
                              roles.IDENTITY.get(role))
    st = st.mutate(_etl_loaded_at=ibis.literal(now, type="timestamp"), _run_id=ibis.literal(run_id))
    st = st.select(*[c for c in st.columns if c not in TRAILER], *TRAILER).order_by(ROW)
    loaded = wh.create_or_replace(T.STAGING[role], st)
    read = int(wh.scalar(ann.count()))
    bad = quarantine_rows(with_place(reasons(ann, spec), src.files[role], src.header(role)), spec, T.SOURCE, run_id, now) \
        if read != loaded else None
    n_bad = quarantine.replace(wh, T.SOURCE, f"crm_{role}", bad, None, None)
    if n_bad:
        by_col = quarantine.bad_columns(wh, T.SOURCE, f"crm_{role}", top=20)
        log.add(role, "rows quarantined", n_bad, ", ".join(f"{c}: {n}" for c, n in by_col.items()))
    return {"read": read, "loaded": loaded, "quarantined": n_bad}


def load(wh: Warehouse, folder: str | Path, project: ProjectConfig, results: list[CheckResult],
         log: CleaningLog) -> dict[str, dict[str, int]]:
    """Every role in the folder -> staging + quarantine, then `crm.*`, in one transaction."""
    cfg = project.crm
    run_id, now = current_run_id(), dt.datetime.now()
    src = CrmFolder(wh, folder, cfg.files, cfg.columns, project.sources.crm)
    try:
        raws = {role: src.raw(role) for role in src.roles}
        lk = lookups(wh, raws, cfg)
        counts: dict[str, dict[str, int]] = {}
        with wh.transaction():
            for role in src.roles:
                counts[role] = _load_role(wh, src, role, raws[role], lk, cfg, log, run_id, now)
            quarantine.account(wh, T.SOURCE, {f"crm_{r}": c for r, c in counts.items()}, project.quality,
                               lambda table: (str(src.file(table.removeprefix("crm_"))), "rows"))
            written = integrity.rebuild(wh)
            report.log_load(log, wh, src.roles, cfg)
            report.log_integrity(log, wh, written)
            for role, c in counts.items():
                log.add(role, "rows read = loaded + quarantined", c["read"],
                        f"{c['read']:,} = {c['loaded']:,} + {c['quarantined']:,}", always=True)
            for role, n in written.items():
                log.add(role, f"rows in {T.CLEAN[role]} (one per id)", n, always=True)
            catalog.gate(wh, project, [T.STAGING[r] for r in src.roles] + [T.CLEAN[r] for r in written], results, quality.TABLE_CHECKS)
    finally:
        src.close()
    return counts


# -- the steps (declared in martops.crm.domain) ----------------------------------------------
LOG_KEY = cleaning_log.state_key("crm")
"""Where each step leaves its cleaning-log entries in `StepContext.state` (`build` returns them)."""


def _logged(ctx: StepContext, step: str, params: dict, fn: Callable[[CleaningLog], dict], rows_in: str | None,
            rows_out: str) -> StepResult:
    return cleaning_log.logged_step(ctx, "crm", step, params, fn, rows_in, rows_out)


def _gated(ctx: StepContext, write: Callable[[], object], tables: Callable[[object], list[str]]):
    """`write()` in one transaction with the checks of the tables it wrote (`tables(its result)`;
    those declared in martops.yml `checks:`): an error check rolls the step back and stops the build."""
    with recorded(ctx.wh, current_run_id()) as results, ctx.wh.transaction():
        out = write()
        catalog.gate(ctx.wh, ctx.project, tables(out), results, quality.TABLE_CHECKS)
    return out


def step_load(ctx: StepContext) -> StepResult:
    folder = ctx.delivery("crm", "crm.load")

    def go(log: CleaningLog) -> dict:
        with recorded(ctx.wh, current_run_id()) as results:
            counts = load(ctx.wh, folder, ctx.project, results, log)
        return {k: sum(c[k] for c in counts.values()) for k in ("read", "loaded", "quarantined")}

    return _logged(ctx, "load", {"source": str(folder)}, go, "read", "loaded")


def step_dedupe(ctx: StepContext) -> StepResult:
    require_input(ctx, "crm.dedupe", T.CUSTOMERS)

    def go(log: CleaningLog) -> dict:
        result = _gated(ctx, lambda: customer_dedupe.run_dedupe(ctx.wh, ctx.project.crm, current_run_id()),
                        lambda _: [T.MATCHES, T.CLUSTERS])
        s = result.stats
        log.add("dedupe", "customer ids linked to another id (Splink)", s["records_in_multi"],
                f"{s['multi_clusters']:,} people with 2+ ids", always=True)
        log.add("dedupe", f"pairs scored at >= {s['pairs_threshold']}", s["pairs_kept"],
                "blocking: " + "; ".join(s["blocking_rules"]), always=True)
        if s["m_untrained"]:
            log.add("dedupe", "columns whose m Splink could not train (too few blocked pairs: no ids share "
                    "them), defaults used", len(s["m_untrained"]), ", ".join(s["m_untrained"]))
            log.add("dedupe", "pairs linked by exact agreement (a near-certain key equal, nothing differing; "
                    "the model is untrained)", s["exact_agreement_pairs"], always=True)
        return {"records": s["records"], "clusters": s["clusters"], "pairs": s["pairs_kept"],
                "linked_ids": s["records_in_multi"]}

    return _logged(ctx, "dedupe", {}, go, "records", "clusters")


def step_golden(ctx: StepContext) -> StepResult:
    require_input(ctx, "crm.golden", T.CLUSTERS)

    def go(log: CleaningLog) -> dict:
        g = customer_dedupe.GOLDEN
        out = _gated(ctx, lambda: customer_dedupe.build_golden(ctx.wh), lambda _: [g.golden, g.mapping, g.values])
        log.add("golden", "golden customers", out["golden"], f"from {out['records']:,} customer ids", always=True)
        log.add("golden", "customer ids merged into another's golden record", out["merged_records"])
        return out

    return _logged(ctx, "golden", {}, go, "records", "golden")


def step_marts(ctx: StepContext) -> StepResult:
    require_input(ctx, "crm.marts", T.CUSTOMERS)

    def go(log: CleaningLog) -> dict:
        counts = _gated(ctx, lambda: marts.build_all(ctx.wh, unknown_country=ctx.project.countries.unknown), lambda built: [marts.TABLES[m] for m in built])
        return {"marts": len(counts), "rows": sum(counts.values()), **counts}

    return _logged(ctx, "marts", {}, go, None, "rows")


def build(wh: Warehouse, folder: str | Path, project: ProjectConfig,
          on_step: Callable[[str], None] | None = None) -> tuple[list[StepResult], CleaningLog]:
    """The CRM steps for one delivery through the step graph (as `martops run crm`); the first
    failure is raised after the cleaning log is written. For library callers and tests."""
    from martops import domains

    graph = domains.graph()
    ctx = StepContext(wh, project, params={"source": str(folder)})
    report = domains.run(ctx, graph.select(["crm"]), run_id=current_run_id(),
                        on_start=(lambda step: on_step(step.name.split(".", 1)[1])) if on_step else None)
    report.raise_first()
    return report.results, ctx.state.get(LOG_KEY, CleaningLog("crm"))


STEPS = ("load", "dedupe", "golden", "marts")
"""Step names in order, for progress bars (`crm build` shows one per step)."""
