"""The KPI mart: daily facts x KPIs, their rolling versions, weekly and monthly rollups.

Grain: day x campaign x country x funnel (`web`, `sales_assisted`), with the channel hierarchy.
Every KPI is a ratio of sums (never an average of daily ratios), and NULL where its denominator
is 0 or unknown: an infinite CAC on a day without deals is not a number anyone should chart.
`acquisitions` is what CAC divides by: POS Lite deals in the sales-assisted funnel, orders on
the web (so CAC over both funnels is the blended CAC). `lead_spend_eur` is the sales-assisted
spend, what CPL divides: web spend buys no leads. The seed's headline conversion is leads -> meetings (`lead_to_meeting`).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from martops.measures import ratio

DIMENSIONS = ["funnel", "campaign_id", "campaign_name", "country_code", "channel_3", "channel_4", "channel_5",
              "budget_category", "in_dictionary"]
GRAIN = ["funnel", "campaign_id", "country_code"]
"""What identifies a row (with the day or period); the other DIMENSIONS describe it."""
MEASURES = ["spend_eur", "lead_spend_eur", "impressions", "clicks", "sessions", "leads", "fake_leads", "sqls", "meetings", "signed",
            "deals", "signups", "orders", "items_ordered", "items_dispatched", "acquisitions"]
RATIOS: dict[str, tuple[str, str]] = {
    "cac": ("spend_eur", "acquisitions"),
    "cpl": ("lead_spend_eur", "leads"),
    "ctr": ("clicks", "impressions"),
    "lead_to_sql": ("sqls", "leads"),
    "sql_to_meeting": ("meetings", "sqls"),
    "lead_to_meeting": ("meetings", "leads"),
    "meeting_to_signed": ("signed", "meetings"),
    "signed_to_deal": ("deals", "signed"),
    "session_to_signup": ("signups", "sessions"),
    "signup_to_order": ("orders", "signups"),
    "session_to_order": ("orders", "sessions"),
}


def with_kpis(t: ir.Table, suffix: str = "") -> ir.Table:
    return t.mutate(**{f"{k}{suffix}": ratio(t[f"{n}{suffix}"], t[f"{d}{suffix}"]) for k, (n, d) in RATIOS.items()})


def daily(facts: ir.Table, rolling_days: int) -> ir.Table:
    """One row per grain from the current snapshot facts, with KPIs and `<kpi>_<n>d` rolling KPIs."""
    derived = ("acquisitions", "lead_spend_eur")
    f = facts.select("date", *DIMENSIONS, *[m for m in MEASURES if m not in derived], "source_rows")
    f = f.mutate(acquisitions=ibis.ifelse(f.funnel == "web", f.orders, f.deals),
                 lead_spend_eur=ibis.ifelse(f.funnel == "sales_assisted", f.spend_eur, ibis.null("float64")))
    w = ibis.window(group_by=["funnel", "campaign_id", "country_code"], order_by=f.date.epoch_days(),
                    range=(-(rolling_days - 1), 0))
    sfx = f"_{rolling_days}d"
    needed = sorted({c for pair in RATIOS.values() for c in pair})
    rolled = f.mutate(**{f"{m}{sfx}": f[m].sum().over(w) for m in needed})
    out = with_kpis(with_kpis(rolled), sfx)
    keep = [c for c in out.columns if not (c.endswith(sfx) and c.removesuffix(sfx) in needed and c != f"spend_eur{sfx}")]
    return out.select(*keep).order_by(["date", "funnel", "campaign_id", "country_code"])


def rollup(day: ir.Table, unit: str) -> ir.Table:
    """Weekly (`W`, weeks start on Monday) or monthly (`M`) sums of the daily mart, with KPIs."""
    start = (day.date - day.date.day_of_week.index().as_interval("D") if unit == "W"
             else ibis.date(day.date.year(), day.date.month(), 1))  # DATE_TRUNC gives a timestamp in DuckDB
    d = day.mutate(period_start=start)
    # descriptive columns are those of the period's latest day: days snapshotted from different
    # deliveries may spell a campaign differently (renamed, recategorised), and grouping by them
    # would split one campaign's week into two rows
    described = {c: d[c].argmax(d.date) for c in DIMENSIONS if c not in GRAIN}
    g = d.group_by(["period_start", *GRAIN]).aggregate(days=d.count(), **described,
                                                       **{m: d[m].sum() for m in MEASURES})
    g = g.select("period_start", *DIMENSIONS, "days", *MEASURES)
    return with_kpis(g).order_by(["period_start", "funnel", "campaign_id", "country_code"])


def summary(day: ir.Table, by: list[str]) -> ir.Table:
    """The daily mart summed over its rows by `by` (for `kpis show`), with KPIs."""
    g = day.group_by(by).aggregate(**{m: day[m].sum() for m in MEASURES}) if by else \
        day.aggregate(**{m: day[m].sum() for m in MEASURES})
    out = with_kpis(g)
    return out.order_by([ibis.desc("spend_eur"), *by]) if by else out
