"""What `martops usage show` prints: a view is a title, rows and headline sentences, read from the usage
marts (never recomputed here, so the screen, the export and the warehouse agree)."""

from __future__ import annotations

from typing import Any

import ibis

from martops.engine import Warehouse
from martops.errors import ConfigError, StepError
from martops.usage import tables as T
from martops.results import View

VIEWS = ("customers", "companies", "tiers", "retention")
RETENTION_MONTHS = 12
"""Months since signup the retention view shows as columns (the export holds the long table)."""


def _table(wh: Warehouse, name: str):
    if not wh.exists(name):
        raise StepError(f"{name} does not exist yet; build the usage marts first: martops usage build --source PATH")
    return wh.table(name)


def _event_grain(wh: Warehouse) -> bool:
    c = _table(wh, T.CUSTOMERS)
    return wh.scalar(c.as_of.max()) is not None


def customers(wh: Warehouse, tier: str | None = None) -> View:
    c = _table(wh, T.CUSTOMERS)
    if tier is not None:
        c = c.filter(c.tier == tier)
    rows = wh.to_pyarrow(c.order_by([ibis.desc("interactions"), "customer_id"])).to_pylist()
    when = ["first_seen", "last_seen"] if _event_grain(wh) else ["first_month", "last_month"]
    cols = ["customer_id", "company", "tier", "interactions", "active_days" if when[0] == "first_seen" else
            "active_months", *when, "recent", "previous", "trend", "excluded_reason"]
    heads = []
    counted = [r["interactions"] for r in rows if not r["excluded"]]
    total = sum(counted)
    if total:
        top = sorted(counted, reverse=True)[:max(1, len(counted) // 10)]
        heads.append(f"{len(counted):,} customers (bots and test accounts aside) had {total:,} interactions; the top "
                     f"10% ({len(top):,}) had {sum(top) / total:.0%} of them.")
    if rows:
        heads.append(f"As of {rows[0]['as_of'] or rows[0]['as_of_month']}; recent = the last window, previous = the "
                     "one before (see marts.usage_tiers for the rule of each tier).")
    return View(f"Interactions per customer ({T.CUSTOMERS}{', tier ' + tier if tier else ''})", cols, rows, heads,
                empty=f"no customer in tier {tier!r}" if tier else None)


def companies(wh: Warehouse, tier: str | None = None) -> View:
    c = _table(wh, T.COMPANIES)
    if tier is not None:
        c = c.filter(c.tier == tier)
    rows = wh.to_pyarrow(c.order_by([ibis.desc("interactions"), "company"])).to_pylist()
    cols = ["company", "seats", "active_users", "active_share", "interactions", "interactions_per_seat", "recent",
            "recent_per_seat", "trend", "tier"]
    heads = []
    if rows:
        biggest = max(rows, key=lambda r: r["seats"])
        heads.append(f"{len(rows):,} companies; the largest, {biggest['company']}, has {biggest['seats']:,} seats "
                     f"({biggest['active_share']:.0%} active in the recent window).")
    people = _table(wh, T.CUSTOMERS)
    none = "no companies: the source names no company for anyone (map sources.usage.columns.people.company), so " \
        "usage is per customer only" if wh.scalar(people.company.notnull().cast("int64").sum()) in (0, None) \
        else f"no company in tier {tier!r}"
    return View(f"Interactions per company ({T.COMPANIES}{', tier ' + tier if tier else ''})", cols, rows, heads,
                empty=none)


def tiers(wh: Warehouse) -> View:
    t = _table(wh, T.TIERS)
    rows = wh.to_pyarrow(t.order_by(["entity", "position"])).to_pylist()
    rows.sort(key=lambda r: (r["entity"] != "customer", r["position"]))
    return View(f"Usage tiers ({T.TIERS})", ["entity", "tier", "members", "share", "measure_min", "measure_max", "rule"],
                rows, [])


def retention(wh: Warehouse) -> View:
    t = _table(wh, T.RETENTION)
    long = wh.to_pyarrow(t.order_by(["cohort_index", "months_since_signup"])).to_pylist()
    wide: dict[str, dict[str, Any]] = {}
    for r in long:
        row = wide.setdefault(r["cohort"], {"cohort": r["cohort"], "cohort_size": r["cohort_size"]})
        if r["months_since_signup"] <= RETENTION_MONTHS:
            row[f"month_{r['months_since_signup']}"] = r["retention"]
    months = sorted({r["months_since_signup"] for r in long if r["months_since_signup"] <= RETENTION_MONTHS})
    heads = []
    for k in (1, 3):
        got = [(r["retention"], r["cohort_size"]) for r in long if r["months_since_signup"] == k]
        if got:
            mean = sum(v * n for v, n in got) / sum(n for _, n in got)
            heads.append(f"Month-{k} retention, all cohorts observed that long: {mean:.1%} (weighted by cohort size, "
                         f"{len(got)} cohorts).")
    return View(f"Retention by signup month ({T.RETENTION}; share of the cohort active k months after signup)",
                ["cohort", "cohort_size", *[f"month_{k}" for k in months]], list(wide.values()), heads,
                empty="no cohort: no customer has a signup month or an interaction")


def show(wh: Warehouse, view: str, tier: str | None = None) -> View:
    if view not in VIEWS:
        raise ConfigError(f"unknown view {view!r}; views: {', '.join(VIEWS)}")
    if tier is not None:
        if view not in ("customers", "companies"):
            raise ConfigError(f"--tier filters customers or companies, not {view}")
        if tier not in T.TIER_ORDER:
            raise ConfigError(f"--tier {tier!r} is not a tier; tiers: {', '.join(T.TIER_ORDER)}")
    if view == "customers":
        return customers(wh, tier)
    if view == "companies":
        return companies(wh, tier)
    return tiers(wh) if view == "tiers" else retention(wh)
