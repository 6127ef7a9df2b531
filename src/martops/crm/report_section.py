"""The CRM part of the weekly report: customer segments, top and bottom products, support
resolution by channel and sales attainment, as of the last `crm build` (the marts describe the
whole extract, not a week, so no week-over-week change is shown).
"""

from __future__ import annotations

import ibis

from martops.config import ProjectConfig
from martops.crm.marts import customers, products, sales, support
from martops.engine import Warehouse
from martops.reports import charts
from martops.reports.blocks import Chart, Column, Metric, ReportSection, Section, Table, date_span
from martops.reports.filters import NO_FILTERS, Filters
from martops.reports.period import Period


def build(wh: Warehouse, period: Period, cfg: ProjectConfig, filters: Filters = NO_FILTERS) -> Section | None:
    if not any(wh.exists(t) for t in (customers.TABLE, products.TABLE, support.TABLE, sales.TABLE)):
        return None
    section = Section("crm", "CRM", "as of the last crm build (the whole extract)")
    if wh.exists(customers.TABLE):
        c = wh.table(customers.TABLE)
        head = wh.to_pyarrow(c.aggregate(n=c.count(), buyers=(c.transactions > 0).sum(), spend=c.spend.sum())).to_pylist()[0]
        section.metrics += [Metric("crm.customers", "Customers", head["n"], unit="count", compare=False),
                            Metric("crm.buyers", "Buyers", head["buyers"], unit="count", compare=False),
                            Metric("crm.revenue", "Revenue (known amounts)", head["spend"], unit="money", compare=False)]
        seg = wh.to_pyarrow(c.group_by("rfm_segment").aggregate(customers=c.count(), spend=c.spend.sum())
                            .order_by(ibis.desc("customers"))).to_pylist()
        section.tables.append(Table("crm.segments", "Customers by RFM segment", [
            Column("rfm_segment", "Segment", "text"), Column("customers", "Customers", "count"),
            Column("spend", "Spend", "money")], seg))
    if wh.exists(products.TABLE):
        p = wh.table(products.TABLE)
        rows = wh.to_pyarrow(p.filter(p.performer.isin(["top", "bottom"])).order_by("revenue_rank")).to_pylist()
        section.tables.append(Table("crm.products", "Top and bottom products by revenue", [
            Column("performer", "", "text"), Column("revenue_rank", "Rank", "count"),
            Column("product_name", "Product", "text"), Column("units", "Units", "count"),
            Column("revenue", "Revenue", "money"), Column("revenue_share", "Share", "share")], rows))
    if wh.exists(support.TABLE):
        s = wh.table(support.TABLE)
        rows = wh.to_pyarrow(s.filter(s.dimension == "channel").order_by(ibis.desc("interactions"))).to_pylist()
        section.charts.append(Chart("crm.support", charts.bars(
            "Support resolution rate by channel", section.period, [r["value"] for r in rows],
            {"Resolution rate": [r["resolution_rate"] for r in rows]}, "resolved / (resolved + unresolved)")))
    if wh.exists(sales.TABLE):
        a = wh.table(sales.TABLE)
        rows = wh.to_pyarrow(a.group_by("performer").aggregate(reps=a.count()).order_by("performer")).to_pylist()
        section.tables.append(Table("crm.sales", "Sales reps against target", [
            Column("performer", "Performer (under < 80%, over >= 100%)", "text"), Column("reps", "Reps", "count")],
            rows))
    return section


def span(wh: Warehouse):
    """The extract's purchases, first to last (None without the customers mart)."""
    return date_span(wh, customers.TABLE, "first_purchase", "last_purchase")


REPORT = ReportSection(build, span=span, title="CRM", reads=(customers.TABLE, products.TABLE, support.TABLE, sales.TABLE))
