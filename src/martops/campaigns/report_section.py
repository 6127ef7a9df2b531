"""The campaign KPI part of the weekly report: spend, CAC, CPL and the funnels' conversion rates for
the period against the previous one, by funnel, channel and country, and the 28-day trend.

Every KPI is recomputed here as a ratio of the period's sums (`mart.RATIOS`, the mart's own
definitions), never an average of daily ratios; empty where the denominator is 0.
"""

from __future__ import annotations

import datetime as dt

from martops.campaigns import tables as T
from martops.campaigns.mart import RATIOS
from martops.config import ProjectConfig
from martops.engine import Warehouse
from martops.reports import charts
from martops.reports.blocks import Chart, Column, Metric, ReportSection, Section, Table, change, cut_short, date_span
from martops.reports.filters import NO_FILTERS, Filters
from martops.reports.period import Period

SUMS = ["spend_eur", "lead_spend_eur", "impressions", "clicks", "sessions", "leads", "sqls", "meetings", "signed",
        "deals", "signups", "orders", "acquisitions"]
FUNNEL_RATES = {"sales_assisted": ["lead_to_sql", "sql_to_meeting", "lead_to_meeting", "meeting_to_signed",
                                   "signed_to_deal"],
                "web": ["session_to_signup", "signup_to_order", "session_to_order"]}
TREND_DAYS = 28
FILTERS = {"channel": "channel_3", "country": "country_code", "funnel": "funnel"}
"""What the dashboard may narrow: rows of the daily KPI mart by its channel, country and funnel."""


def latest(wh: Warehouse) -> dt.date | None:
    return wh.scalar(wh.table(T.DAILY).date.max()) if wh.exists(T.DAILY) else None


def kpis(sums: dict) -> dict:
    """The mart's ratios over summed measures (None on a zero or unknown denominator)."""
    out = dict(sums)
    for name, (num, den) in RATIOS.items():
        out[name] = sums[num] / sums[den] if sums.get(num) is not None and sums.get(den) else None
    return out


def _sums(wh: Warehouse, p: Period, by: list[str], f: Filters) -> list[dict]:
    t = f.narrow(wh.table(T.DAILY), FILTERS)
    t = t.filter(t.date.between(p.since, p.until))
    aggs = {m: t[m].sum() for m in SUMS}
    expr = t.group_by(by).aggregate(**aggs) if by else t.aggregate(**aggs)
    return [kpis(r) for r in wh.to_pyarrow(expr).to_pylist() if r["spend_eur"] is not None or r["leads"] is not None]


def build(wh: Warehouse, period: Period, cfg: ProjectConfig, filters: Filters = NO_FILTERS) -> Section | None:
    if not wh.exists(T.DAILY):
        return None
    section = Section("campaigns", "Campaign KPIs", period.text)
    prev = period.previous()
    now = _sums(wh, period, [], filters)
    if not now:
        t = filters.narrow(wh.table(T.DAILY), FILTERS)
        span = wh.to_pyarrow(t.aggregate(a=t.date.min(), b=t.date.max())).to_pylist()[0]
        what = "the rows of the filters picked span" if filters.picked else "the KPI mart spans"
        section.empty = (f"no campaign data dated in this period; {what} {span['a']} to {span['b']}"
                         if span["a"] is not None else "no campaign data match the filters picked")
        return section
    cur, before = now[0], (_sums(wh, prev, [], filters) or [None])[0]
    compare = not cut_short(section, latest(wh), period, "campaign data")
    if not compare:
        before = {}
    old = before or {}
    section.metrics = [Metric(f"campaigns.{k}", label, cur[k], old.get(k), unit, higher_is_better=better)
                       for k, label, unit, better in (
        ("spend_eur", "Spend (EUR)", "money", None), ("leads", "Leads", "count", True),
        ("acquisitions", "Acquisitions", "count", True), ("cac", "CAC (EUR)", "money", False),
        ("cpl", "CPL (EUR)", "money", False))]
    if before is None:
        section.notes.append(f"No campaign data in the previous period ({prev.text}): no week-over-week change.")
    section.notes.append("Acquisitions are deals in the sales-assisted funnel and orders on the web; CAC = spend / "
                         "acquisitions, CPL = sales-assisted spend / leads, each over the period's sums.")
    section.tables.append(_funnels(wh, period, prev if compare else None, filters))
    for dim, label in (("channel_3", "channel"), ("country_code", "country")):
        section.tables.append(_by(wh, period, prev if compare else None, dim, label, filters))
    section.charts.append(_trend(wh, period, filters))
    by_channel = sorted(_sums(wh, period, ["channel_3"], filters), key=lambda r: -(r["spend_eur"] or 0))
    names = [r["channel_3"] or "(none)" for r in by_channel]
    section.charts.append(Chart("campaigns.channels", charts.bars(
        "Spend and CAC by channel", period.text, names,
        {"Spend (EUR)": [r["spend_eur"] for r in by_channel], "CAC (EUR)": [r["cac"] for r in by_channel]},
        "spend (EUR)", right=("CAC (EUR)",), right_title="CAC (EUR)")))
    return section


def _funnels(wh: Warehouse, period: Period, prev: Period | None, f: Filters) -> Table:
    before = {r["funnel"]: r for r in _sums(wh, prev, ["funnel"], f)} if prev else {}
    rows = []
    for r in sorted(_sums(wh, period, ["funnel"], f), key=lambda r: r["funnel"]):
        b = before.get(r["funnel"], {})
        for rate in FUNNEL_RATES.get(r["funnel"], []):
            rows.append({"funnel": r["funnel"], "rate": rate.replace("_", " "), "value": r[rate],
                         "previous": b.get(rate), "numerator": r[RATIOS[rate][0]], "denominator": r[RATIOS[rate][1]]})
    return Table("campaigns.funnel_rates", "Conversion rates by funnel", [
        Column("funnel", "Funnel", "text"), Column("rate", "Rate", "text"), Column("value", "This period", "share"),
        Column("previous", "Previous", "share"), Column("numerator", "Numerator", "count"),
        Column("denominator", "Denominator", "count")], rows)


def _by(wh: Warehouse, period: Period, prev: Period | None, dim: str, label: str, f: Filters) -> Table:
    before = {r[dim]: r for r in _sums(wh, prev, [dim], f)} if prev else {}
    rows = [{label: r[dim] or "(none)", "spend_eur": r["spend_eur"], "leads": r["leads"],
             "acquisitions": r["acquisitions"], "cac": r["cac"], "cpl": r["cpl"],
             "spend_change": change(r["spend_eur"], before.get(r[dim], {}).get("spend_eur"))}
            for r in sorted(_sums(wh, period, [dim], f), key=lambda r: -(r["spend_eur"] or 0))]
    return Table(f"campaigns.by_{label}", f"By {label}", [
        Column(label, label.capitalize(), "text"), Column("spend_eur", "Spend (EUR)", "money"),
        Column("leads", "Leads", "count"), Column("acquisitions", "Acquisitions", "count"),
        Column("cac", "CAC (EUR)", "money"), Column("cpl", "CPL (EUR)", "money"),
        Column("spend_change", "Spend vs previous", "change")], rows)


def _trend(wh: Warehouse, period: Period, f: Filters) -> Chart:
    window = period.ending_window(TREND_DAYS)
    days = {r["date"]: r for r in _sums(wh, window, ["date"], f)}
    x = [window.since + dt.timedelta(days=i) for i in range(TREND_DAYS)]
    return Chart("campaigns.trend", charts.lines(
        f"Spend and acquisitions by day, last {TREND_DAYS} days", window.text, x,
        {"Spend (EUR)": [days.get(d, {}).get("spend_eur") for d in x],
         "Acquisitions": [days.get(d, {}).get("acquisitions") for d in x]}, "EUR",
        right=("Acquisitions",), right_title="acquisitions"))


def span(wh: Warehouse) -> tuple[dt.date, dt.date] | None:
    return date_span(wh, T.DAILY, "date")


REPORT = ReportSection(build, latest, span, title="Campaign KPIs", dated=True, table=T.DAILY, filters=FILTERS, reads=(T.DAILY,))
