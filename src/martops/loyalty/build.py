"""`martops loyalty build`: a delivery (customers.csv, transactions.csv) -> staging + quarantine ->
the points rule and the customer fills -> the reporting tables.

Each step is one transaction that commits with its checks or not at all. A delivery is a full
extract: it replaces staging and its quarantine rows, so re-running a folder gives the same
tables (`_etl_loaded_at`/`_run_id` aside) and a later delivery with more transactions refreshes
the fills. The fills are as of `--as-of` (or `loyalty.as_of`; default the last transaction day).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Callable

import ibis
import ibis.expr.types as ir

from martops.checks import catalog
from martops.checks.store import recorded
from martops.config import ProjectConfig
from martops.domain import StepContext, require_input
from martops.engine import Warehouse
from martops.errors import ConfigError
from martops.loyalty import behaviour, fill, programme, quality, reporting, specs
from martops.loyalty import tables as T
from martops.loyalty.source import FILLED, LoyaltyFolder
from martops.ops import cleaning_log, quarantine
from martops.ops.cleaning_log import CleaningLog
from martops.ops.runlog import current_run_id
from martops.results import StepResult
from martops.sources.typed import ROW, annotate, quarantine_rows, reasons, with_place


def _stage(wh: Warehouse, src: LoyaltyFolder, name: str, raw: ir.Table, spec, table: str, columns: dict,
           run_id: str, now: dt.datetime) -> tuple[ir.Table, dict[str, int]]:
    """Type one file: good rows -> `table`, bad rows -> ops.quarantine (with file, line, column)."""
    ann = _same_when_parsed(annotate(raw, spec, check_duplicates=True), spec, name)
    ann = wh.materialize(ann, f"_loyalty_{name}_annotated")
    good = ann.filter(ann._ok)
    rows = good.select(ROW, **columns(good), _etl_loaded_at=ibis.literal(now, type="timestamp"),
                       _run_id=ibis.literal(run_id)).order_by(ROW)
    loaded = wh.create_or_replace(table, rows)
    read = int(wh.scalar(ann.count()))
    bad = None
    if read != loaded:
        why = reasons(ann, spec)
        same = why._same_reason.notnull()  # rows that only clash once parsed: no other reason
        why = why.mutate(_reason=ibis.ifelse(same, why._same_reason, why._reason),
                         _bad_column=ibis.ifelse(same, ibis.literal(spec.key[0]) if name == "customers" else
                                                 ibis.literal("user_id"), why._bad_column))
        bad = quarantine_rows(with_place(why, src.file(name).name, src.header(name)), spec, T.SOURCE, run_id, now)
    n_bad = quarantine.replace(wh, T.SOURCE, spec.table, bad, None, None)
    return good, {"read": read, "loaded": loaded, "quarantined": n_bad}


def _same_when_parsed(ann: ir.Table, spec, name: str) -> ir.Table:
    """Rows that load but whose key, as parsed, another loading row has too: written differently
    (`007` and `7`, `2012-1-5` and `2012-01-05`), so the raw-text duplicate rules did not see them.
    A customer id held by two such rows is a conflict: none loads. A transaction written twice is
    one transaction: the first line loads, the others are its copies. `_same_reason` says why."""
    key = [f"t_{k}" for k in spec.key]
    ok = ann.filter(ann._ok)
    groups = ok.group_by(key).aggregate(_same_n=ok.count(), _same_first=ok[ROW].min())
    groups = groups.filter(groups._same_n > 1)
    j = ann.left_join(groups, key)
    j = j.drop(*[c for c in j.columns if c.endswith("_right")])
    clash = j._ok & j._same_n.notnull()
    if name == "customers":
        drop = clash
        why = (ibis.literal("id '") + j.id + "' is customer " + j.t_id.cast("string") + " as another line writes it ("
               + j._same_n.cast("string") + " rows); conflicting rows, none loaded")
    else:
        drop = clash & (j[ROW] != j._same_first)
        why = ibis.literal("the same transaction as line ") + j._same_first.cast("string") + " (written differently)"
    return j.mutate(_ok=j._ok & ~drop.fill_null(False), _same_reason=ibis.ifelse(drop.fill_null(False), why,
                                                                                 ibis.null("string"))
                    ).drop("_same_n", "_same_first")


def _customer_columns(t: ir.Table) -> dict:
    text = ("location", "gender", "age", "favorite_movie_line")
    return {"id": t.t_id, "signup_date": t.t_signup_date, "loyalty": t.t_loyalty,
            **{c: ibis.ifelse(t[f"t_{c}"].strip() == "", ibis.null("string"), t[f"t_{c}"].strip()) for c in text},
            **{c: t[c] for c in FILLED}}


def _transaction_columns(t: ir.Table) -> dict:
    return {"date": t.t_date, "user_id": t.t_user_id, "value": t.t_value, "point_differential": t.t_point_differential}


def load(wh: Warehouse, folder: str | Path, project: ProjectConfig, results: list, log: CleaningLog) -> dict:
    """Both files -> staging + quarantine, in one transaction."""
    cfg, settings = project.loyalty, project.sources.loyalty
    run_id, now = current_run_id(), dt.datetime.now()
    src = LoyaltyFolder(wh, folder, settings)
    try:
        counts: dict[str, dict[str, int]] = {}
        with wh.transaction():
            cspec = specs.customers(cfg, settings)
            good, counts["customers"] = _stage(wh, src, "customers", src.raw("customers"), cspec,
                                               T.STAGING_CUSTOMERS, _customer_columns, run_id, now)
            ids = wh.materialize(good.select(_cid=good.t_id).distinct(), "_loyalty_customer_ids")
            raw = src.raw("transactions")
            raw = raw.mutate(_uid=specs.whole(raw.user_id))
            j = raw.left_join(ids, raw._uid == ids._cid)
            raw = j.mutate(_customer=j._cid).drop("_uid", "_cid")
            _, counts["transactions"] = _stage(wh, src, "transactions", raw, specs.transactions(settings),
                                               T.STAGING_TRANSACTIONS, _transaction_columns, run_id, now)
            quarantine.account(wh, T.SOURCE, {f"loyalty_{k}": c for k, c in counts.items()}, project.quality,
                               lambda table: (str(src.file(table.removeprefix("loyalty_"))), "rows"))
            for name, c in counts.items():
                if c["quarantined"]:
                    by_col = quarantine.bad_columns(wh, T.SOURCE, f"loyalty_{name}", top=20)
                    log.add(name, "rows quarantined", c["quarantined"], ", ".join(f"{k}: {n}" for k, n in by_col.items()))
                log.add(name, "rows read = loaded + quarantined", c["read"],
                        f"{c['read']:,} = {c['loaded']:,} + {c['quarantined']:,}", always=True)
            st = wh.table(T.STAGING_CUSTOMERS)
            given = ibis.or_(*[st[c].notnull() & (st[c].strip() != "") for c in FILLED])
            log.add("customers", "rows whose blank-by-design columns held values (kept as delivered in staging; "
                    "loyalty.customers holds the computed fills)", int(wh.scalar(st.filter(given).count())))
            catalog.gate(wh, project, [T.STAGING_CUSTOMERS, T.STAGING_TRANSACTIONS], results, quality.TABLE_CHECKS)
    finally:
        src.close()
    return counts


def _as_of(ctx: StepContext, tx: ir.Table) -> dt.date:
    given = ctx.param("as_of") or ctx.project.loyalty.as_of
    if given is not None:
        day = given if isinstance(given, dt.date) else dt.date.fromisoformat(str(given))
        if day > dt.date.today():
            raise ConfigError(f"loyalty.fill: the as-of date {day.isoformat()} is in the future; fills can only be "
                              "as of a day that has happened (leave --as-of out for the last transaction day)")
        return day
    last = ctx.wh.scalar(tx.date.max())
    if last is None:
        raise ConfigError(f"loyalty.fill: {T.STAGING_TRANSACTIONS} holds no transactions, so there is no last day "
                          "to fill as of; load a delivery with transactions (or pass --as-of)")
    return last.date() if isinstance(last, dt.datetime) else last


def build_fill(ctx: StepContext, results: list, log: CleaningLog) -> dict:
    wh, cfg = ctx.wh, ctx.project.loyalty
    staged_tx, staged_c = wh.table(T.STAGING_TRANSACTIONS), wh.table(T.STAGING_CUSTOMERS)
    as_of = _as_of(ctx, staged_tx)
    with wh.transaction():
        n_tx = wh.create_or_replace(T.TRANSACTIONS, fill.transactions(staged_tx, staged_c, cfg))
        n_c = wh.create_or_replace(T.CUSTOMERS, fill.customers(staged_c, wh.table(T.TRANSACTIONS), as_of))
        catalog.gate(wh, ctx.project, [T.TRANSACTIONS, T.CUSTOMERS], results, quality.TABLE_CHECKS)
    all_tx = wh.table(T.TRANSACTIONS)
    later = int(wh.scalar((all_tx.date > as_of).cast("int64").sum()) or 0)
    tx = all_tx.filter(all_tx.date <= as_of)  # the figures below are those the fills count
    s = wh.to_pyarrow(tx.aggregate(
        breaks=(~tx.points_rule_ok).cast("int64").sum(), beyond=tx.redeemed_beyond_balance.cast("int64").sum(),
        exceeds=tx.discount_exceeds_value.cast("int64").sum(), early=tx.before_signup.cast("int64").sum(),
        zero=(tx.value == 0).cast("int64").sum(), redemptions=(tx.kind == "redemption").cast("int64").sum(),
    )).to_pylist()[0]
    c = wh.table(T.CUSTOMERS)
    got = wh.to_pyarrow(c.aggregate(signed=(c.signup_date <= as_of).cast("int64").sum(),
                                    none=((c.number_of_purchases == 0) & (c.signup_date <= as_of)).cast("int64").sum()
                                    )).to_pylist()[0]
    log.add("fill", "customers signed up by the as-of date", got["signed"] or 0,
            f"as of {as_of.isoformat()}; {n_c:,} customers in loyalty.customers", always=True)
    log.add("fill", "of them without a transaction by then (fills 0)", got["none"] or 0, always=True)
    log.add("fill", "transactions dated after the as-of date (not counted in the fills)", later)
    log.add("fill", f"redemptions ({cfg.redemption_points:,} points for {cfg.redemption_discount_cents:,} cents off, "
            "by the points rule)", s["redemptions"] or 0, always=True)
    log.add("fill", "transactions breaking the points rule (kept, flagged; their customer's point totals NULL)",
            s["breaks"] or 0, always=True)
    log.add("fill", "redemptions with fewer points on the balance than they spend (kept, flagged)", s["beyond"] or 0)
    log.add("fill", "redemptions on a basket smaller than the discount (kept, flagged: net value negative)",
            s["exceeds"] or 0)
    log.add("fill", "transactions dated before their customer's signup (kept, flagged)", s["early"] or 0)
    log.add("fill", "zero-value transactions (counted as purchases; zero_value_purchases)", s["zero"] or 0)
    return {"transactions": n_tx, "customers": n_c, "as_of": as_of.isoformat()}


def build_reporting(ctx: StepContext, results: list) -> dict:
    wh, cfg = ctx.wh, ctx.project.loyalty
    as_of = wh.scalar(wh.table(T.CUSTOMERS).as_of.max())
    as_of = as_of.date() if isinstance(as_of, dt.datetime) else as_of
    if as_of is None:
        raise ConfigError(f"loyalty.reporting: {T.CUSTOMERS} is empty; run loyalty.fill first")
    out: dict[str, int] = {}
    with wh.transaction():
        tx = reporting.upto(wh.table(T.TRANSACTIONS), as_of)
        for period, table in T.PERIODS.items():
            out[period] = wh.create_or_replace(table, reporting.purchases(tx, period))
        out["customer_month"] = wh.create_or_replace(T.CUSTOMER_MONTH, reporting.customer_month(tx))
        out["liability"] = wh.create_or_replace(T.LIABILITY, reporting.liability(tx, cfg))
        catalog.gate(wh, ctx.project, [*T.PERIODS.values(), T.CUSTOMER_MONTH, T.LIABILITY], results,
                     quality.TABLE_CHECKS)
    return {"rows": sum(out.values()), **out}


def build_insights(ctx: StepContext, results: list, log: CleaningLog) -> dict:
    wh, cfg = ctx.wh, ctx.project.loyalty
    c = wh.table(T.CUSTOMERS)
    as_of = wh.scalar(c.as_of.max())
    as_of = as_of.date() if isinstance(as_of, dt.datetime) else as_of
    if as_of is None:
        raise ConfigError(f"loyalty.insights: {T.CUSTOMERS} is empty; run loyalty.fill first")
    tx = reporting.upto(wh.table(T.TRANSACTIONS), as_of)
    first_signup = wh.scalar(c.signup_date.min())
    c = c.filter(c.signup_date <= as_of)  # a customer who signed up later was not yet in either arm
    # months after the data's last day were not observed, whatever the as-of date says
    last = wh.scalar(wh.table(T.TRANSACTIONS).date.max())
    last = last.date() if isinstance(last, dt.datetime) else last
    observed = min(as_of, last) if last is not None else as_of
    if observed < as_of:
        log.add("insights", "as-of date after the last transaction: retention counts the months over by the data's "
                "last day", 1, f"as of {as_of.isoformat()}, data until {observed.isoformat()}", always=True)
    arms = programme.split(wh.to_pyarrow(programme.per_customer(c, wh.table(T.CUSTOMER_MONTH), observed)), cfg)
    for arm, name in ((arms.treated, cfg.treated_arm), (arms.control, cfg.control_arm)):
        if len(arm["id"]) == 0:
            first = first_signup.date() if isinstance(first_signup, dt.datetime) else first_signup
            if first is not None and as_of < first:
                raise ConfigError(f"loyalty.insights: no customer had signed up by the as-of date {as_of.isoformat()} "
                                  f"(the first signup is {first.isoformat()}); choose a later --as-of")
            raise ConfigError(f"loyalty.insights: no customer is in the {name!r} arm by {as_of.isoformat()}, so the "
                              "programme cannot be compared; check loyalty.treated_arm / loyalty.control_arm in "
                              "martops.yml")
    tests = programme.test_table(arms)
    discounts = int(wh.scalar(tx.discount_cents.sum()) or 0)
    out: dict[str, int] = {}
    with wh.transaction():
        out["frequency"] = wh.create_or_replace(T.FREQUENCY, behaviour.frequency(c))
        out["dropoff"] = wh.create_or_replace(T.DROPOFF, behaviour.dropoff(tx, c))
        out["seasonality"] = wh.create_or_replace(T.SEASONALITY, behaviour.seasonality(tx))
        out["segments"] = wh.create_or_replace(T.SEGMENTS, behaviour.segments(c))
        out["tests"] = wh.create_or_replace(T.PROGRAMME_TEST, ibis.memtable(tests))
        out["balance"] = wh.create_or_replace(T.PROGRAMME_BALANCE, ibis.memtable(programme.balance_table(arms)))
        summary = programme.summary_table(arms, tests, discounts, int(wh.scalar(
            tx.filter(tx.loyalty == cfg.treated_arm).point_differential.sum()) or 0), cfg, as_of)
        out["summary"] = wh.create_or_replace(T.PROGRAMME_SUMMARY, ibis.memtable(summary))
        catalog.gate(wh, ctx.project, list(T.INSIGHTS), results, quality.TABLE_CHECKS)
    for r in summary.to_pylist():
        if r["measure"] in ("revenue_loss_share", "net_revenue_per_customer_difference"):
            log.add("insights", r["measure"], 1, f"{r['value']:.6g} {r['unit']}", always=True)
    return {"rows": sum(out.values()), **out}


# -- the steps (declared in martops.loyalty.domain) ---------------------------------------------
LOG_KEY = cleaning_log.state_key("loyalty")


def _logged(ctx: StepContext, step: str, params: dict, fn: Callable[[CleaningLog], dict], rows_in: str | None,
            rows_out: str) -> StepResult:
    return cleaning_log.logged_step(ctx, "loyalty", step, params, fn, rows_in, rows_out)


def step_load(ctx: StepContext) -> StepResult:
    folder = ctx.delivery("loyalty", "loyalty.load")

    def go(log: CleaningLog) -> dict:
        with recorded(ctx.wh, current_run_id()) as results:
            counts = load(ctx.wh, folder, ctx.project, results, log)
        return {k: sum(c[k] for c in counts.values()) for k in ("read", "loaded", "quarantined")}

    return _logged(ctx, "load", {"source": str(folder)}, go, "read", "loaded")


def step_fill(ctx: StepContext) -> StepResult:
    require_input(ctx, "loyalty.fill", T.STAGING_TRANSACTIONS)

    def go(log: CleaningLog) -> dict:
        with recorded(ctx.wh, current_run_id()) as results:
            return build_fill(ctx, results, log)

    as_of = ctx.param("as_of")
    return _logged(ctx, "fill", {"as_of": str(as_of)} if as_of else {}, go, "transactions", "customers")


def step_reporting(ctx: StepContext) -> StepResult:
    require_input(ctx, "loyalty.reporting", T.CUSTOMERS)

    def go(log: CleaningLog) -> dict:
        with recorded(ctx.wh, current_run_id()) as results:
            return build_reporting(ctx, results)

    return _logged(ctx, "reporting", {}, go, None, "rows")


def step_insights(ctx: StepContext) -> StepResult:
    require_input(ctx, "loyalty.insights", T.CUSTOMER_MONTH)

    def go(log: CleaningLog) -> dict:
        with recorded(ctx.wh, current_run_id()) as results:
            return build_insights(ctx, results, log)

    return _logged(ctx, "insights", {}, go, None, "rows")


def build(wh: Warehouse, folder: str | Path, project: ProjectConfig, as_of: dt.date | None = None
          ) -> tuple[list[StepResult], CleaningLog]:
    """The loyalty steps for one delivery through the step graph (as `martops run loyalty`); the
    first failure is raised after the cleaning log is written. For library callers and tests."""
    from martops import domains

    ctx = StepContext(wh, project, params={"source": str(folder), "as_of": as_of})
    report = domains.run(ctx, domains.graph().select(["loyalty"]), run_id=current_run_id())
    report.raise_first()
    return report.results, ctx.state.get(LOG_KEY, CleaningLog("loyalty"))
