"""The usage part of the weekly report: tiers of customers and companies and signup-cohort
retention, as of the marts' as-of day (`usage build`; the marts describe a window ending there,
not the report's week, so no week-over-week change is shown).
"""

from __future__ import annotations

import ibis

from martops.config import ProjectConfig
from martops.engine import Warehouse
from martops.reports import charts
from martops.reports.blocks import Chart, Column, Metric, ReportSection, Section, Table, date_span
from martops.reports.filters import NO_FILTERS, Filters
from martops.reports.period import Period
from martops.usage import tables as T


def build(wh: Warehouse, period: Period, cfg: ProjectConfig, filters: Filters = NO_FILTERS) -> Section | None:
    if not (wh.exists(T.CUSTOMERS) and wh.exists(T.TIERS)):
        return None
    c = wh.table(T.CUSTOMERS)
    head = wh.to_pyarrow(c.aggregate(n=c.count(), excluded=c.excluded.cast("int64").sum(),
                                     as_of=c.as_of.max(), as_of_month=c.as_of_month.max())).to_pylist()[0]
    as_of = head["as_of"] or head["as_of_month"]
    section = Section("usage", "Product usage", f"as of {str(as_of)[:10]} (the last usage build)")
    section.metrics = [
        Metric("usage.customers", "Customers", head["n"] - (head["excluded"] or 0), unit="count", compare=False),
        Metric("usage.excluded", "Bots and test accounts left out", head["excluded"] or 0, unit="count",
               compare=False),
    ]
    t = wh.table(T.TIERS)
    for entity in ("customer", "company"):
        rows = wh.to_pyarrow(t.filter(t.entity == entity).order_by("position")).to_pylist()
        if rows:
            section.tables.append(Table(f"usage.tiers_{entity}", f"{entity.capitalize()} usage tiers", [
                Column("tier", "Tier", "text"), Column("members", "Members", "count"),
                Column("share", "Share", "share"), Column("rule", "Rule", "text")], rows))
    if wh.exists(T.RETENTION):
        r = wh.table(T.RETENTION)
        curve = wh.to_pyarrow(r.group_by("months_since_signup").aggregate(
            active=r.active_users.sum(), size=r.cohort_size.sum()).order_by("months_since_signup")
            .filter(ibis._.months_since_signup <= 12)).to_pylist()
        if curve:
            section.charts.append(Chart("usage.retention", charts.lines(
                "Share of a signup cohort active, by months since signup (all cohorts, size-weighted)",
                section.period, [row["months_since_signup"] for row in curve],
                {"Active share": [row["active"] / row["size"] if row["size"] else None for row in curve]},
                "share of cohort")))
    return section


def latest(wh: Warehouse):
    """The marts' as-of day (event grain); None at the month grain, which has no days."""
    return wh.scalar(wh.table(T.CUSTOMERS).as_of.max()) if wh.exists(T.CUSTOMERS) else None


def span(wh: Warehouse):
    """From the first event of any customer to the marts' as-of day (None at the month grain)."""
    return date_span(wh, T.CUSTOMERS, "first_seen", "as_of")


REPORT = ReportSection(build, latest, span, title="Product usage", reads=(T.CUSTOMERS, T.TIERS, T.RETENTION))
