"""The loyalty part of the weekly report: the period's purchases per arm (enrolled vs control) against
the previous period, and the programme's state: its customers, points and liability as tiles, its
estimated effect (enrolled vs control) as a table, the liability and the points flows as charts.

Amounts are stored in cents and shown in currency units (/100); counts (customers, points) are
whole numbers, though `loyalty.programme_summary` stores every measure as a DOUBLE. The programme
test and the liability are built once over all the data (`loyalty build`), so they are stated as
of that build, not per period.
"""

from __future__ import annotations

import datetime as dt

from martops.config import ProjectConfig
from martops.engine import Warehouse
from martops.loyalty import tables as T
from martops.reports import charts
from martops.reports.blocks import Chart, Column, Metric, ReportSection, Section, Table, date_span
from martops.reports.filters import NO_FILTERS, Filters
from martops.reports.period import Period


UNITS = {"customers": "count", "points": "count", "cents": "money", "share": "share"}
"""`loyalty.programme_summary.unit` -> how the report shows it (`blocks.fmt`)."""
EFFECTS = {"net_revenue_per_customer_difference", "incremental_net_revenue", "net_effect_after_liability"}
"""The summary's estimates (with a 95% interval): a table; every other measure is a state tile."""
LABELS = {"customers_control": "Customers in control", "gross_revenue_enrolled": "Gross revenue, enrolled",
          "revenue_loss_share": "Revenue loss (discounts / gross)",
          "net_revenue_per_customer_difference": "Net revenue per customer, enrolled - control"}


def latest(wh: Warehouse) -> dt.date | None:
    return wh.scalar(wh.table(T.DAILY).period_start.max()) if wh.exists(T.DAILY) else None


def _arms(wh: Warehouse, p: Period) -> dict[str, dict]:
    t = wh.table(T.DAILY)
    t = t.filter(t.period_start.between(p.since, p.until))
    g = t.group_by("loyalty").aggregate(purchases=t.purchases.sum(), net=t.net_value_cents.sum(),
                                        points=t.points_earned.sum())
    return {r["loyalty"]: r for r in wh.to_pyarrow(g).to_pylist()}


def build(wh: Warehouse, period: Period, cfg: ProjectConfig, filters: Filters = NO_FILTERS) -> Section | None:
    if not wh.exists(T.DAILY):
        return None
    section = Section("loyalty", "Loyalty programme", period.text)
    now, before = _arms(wh, period), _arms(wh, period.previous())
    for arm in sorted(now):
        b = before.get(arm)
        section.metrics += [
            Metric(f"loyalty.{arm}.purchases", f"Purchases, {arm}", now[arm]["purchases"],
                   b["purchases"] if b else None, "count"),
            Metric(f"loyalty.{arm}.net_revenue", f"Net revenue, {arm}", now[arm]["net"] / 100,
                   b["net"] / 100 if b else None, "money"),
        ]
    if not now:
        t = wh.table(T.DAILY)
        span = wh.to_pyarrow(t.aggregate(a=t.period_start.min(), b=t.period_start.max())).to_pylist()[0]
        section.empty = (f"no purchases dated in this period (the programme's purchases span {span['a']} to "
                         f"{span['b']}); the programme's state below covers all of them")
    if wh.exists(T.PROGRAMME_SUMMARY):
        _programme(section, wh.to_pyarrow(wh.table(T.PROGRAMME_SUMMARY)).to_pylist())
    if wh.exists(T.LIABILITY):
        section.charts += _liability(wh.to_pyarrow(wh.table(T.LIABILITY).order_by("month")).to_pylist())
    return section


def _programme(section: Section, rows: list[dict]) -> None:
    """The programme's state as tiles (counts as whole numbers, cents as currency units, shares as
    percentages) and its estimated effects, with their 95% intervals, as a table in currency units."""
    if not rows:
        return
    as_of = rows[0].get("as_of")
    effects = []
    for r in rows:
        label = LABELS.get(r["measure"], r["measure"].replace("_", " ").capitalize())
        scale = 0.01 if r["unit"] == "cents" else 1
        shown = lambda v: None if v is None else v * scale  # noqa: E731
        if r["measure"] in EFFECTS or r["ci_low"] is not None or r["ci_high"] is not None:
            effects.append({"measure": label, "value": shown(r["value"]), "ci_low": shown(r["ci_low"]),
                            "ci_high": shown(r["ci_high"]), "note": r.get("note") or ""})
            continue
        unit = UNITS.get(r["unit"], "number")
        value = r["value"]
        if value is not None and unit == "count":
            value = int(round(value))  # stored as DOUBLE beside the money figures; a count has no fraction
        section.metrics.append(Metric(f"loyalty.{r['measure']}", label, shown(value) if unit == "money" else value,
                                      unit=unit, compare=False, higher_is_better=None))
    if effects:
        section.tables.append(Table("loyalty.programme", f"Programme effect, enrolled vs control (as of {as_of})", [
            Column("measure", "Measure", "text"), Column("value", "Estimate", "money"),
            Column("ci_low", "95% CI low", "money"), Column("ci_high", "95% CI high", "money"),
            Column("note", "How", "text")], effects))
    section.notes.append(f"The programme's state and effect (customers, points, liability, the test) are as of "
                         f"{as_of}, the last loyalty build, over all its data; money in currency units.")


def _liability(rows: list[dict]) -> list[Chart]:
    """Two charts: the liability (points outstanding at the redemption rate) and the points flows.

    Not one chart with two axes: the liability is the outstanding points times a constant, so the
    two lines, each scaled to its own axis, lie exactly on top of each other and one hides the other."""
    if not rows:
        return []
    months = [r["month"] for r in rows]
    span = f"{months[0]} to {months[-1]} (all data)"
    return [
        Chart("loyalty.liability", charts.lines(
            "Points liability at month end", span, months,
            {"Liability": [r["liability_cents"] / 100 for r in rows]}, "currency units")),
        Chart("loyalty.points", charts.bars(
            "Points earned and redeemed by month", span, [str(m) for m in months],
            {"Earned": [r["points_earned"] for r in rows], "Redeemed": [r["points_redeemed"] for r in rows]},
            "points")),
    ]


def span(wh: Warehouse) -> tuple[dt.date, dt.date] | None:
    return date_span(wh, T.DAILY, "period_start")


REPORT = ReportSection(build, latest, span, title="Loyalty programme", dated=True,
                       reads=(T.DAILY, T.PROGRAMME_SUMMARY, T.LIABILITY))
