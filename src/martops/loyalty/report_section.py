"""The loyalty part of the weekly report: the period's purchases per arm (enrolled vs control) against
the previous period, and the programme's state: its test result and the points liability.

Amounts are stored in cents and shown in currency units (/100). The programme test and the
liability are built once over all the data (`loyalty build`), so they are stated as of that
build, not per period.
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
        rows = wh.to_pyarrow(wh.table(T.PROGRAMME_SUMMARY)).to_pylist()
        as_of = rows[0].get("as_of") if rows else None
        section.tables.append(Table("loyalty.programme", f"Programme test (as of {as_of})", [
            Column("measure", "Measure", "text"), Column("value", "Value", "number"),
            Column("ci_low", "95% CI low", "number"), Column("ci_high", "95% CI high", "number"),
            Column("unit", "Unit", "text")], rows))
    if wh.exists(T.LIABILITY):
        liab = wh.to_pyarrow(wh.table(T.LIABILITY).order_by("month")).to_pylist()
        months = [r["month"] for r in liab]
        section.charts.append(Chart("loyalty.liability", charts.lines(
            "Points outstanding and liability by month", f"{months[0]} to {months[-1]} (all data)" if months else "",
            months, {"Liability": [r["liability_cents"] / 100 for r in liab],
                     "Points outstanding": [r["points_outstanding"] for r in liab]},
            "currency units", right=("Points outstanding",), right_title="points")))
    return section


def span(wh: Warehouse) -> tuple[dt.date, dt.date] | None:
    return date_span(wh, T.DAILY, "period_start")


REPORT = ReportSection(build, latest, span, title="Loyalty programme", dated=True,
                       reads=(T.DAILY, T.PROGRAMME_SUMMARY, T.LIABILITY))
