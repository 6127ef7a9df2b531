"""The attribution part of the weekly report: cost, credit and revenue by channel, CPO and ROAS,
the models side by side, the trend by day.

Read from `marts.channel_reporting`, whose date is the date of the session a credit went to (so a
week's revenue is the revenue its sessions earned, whenever the conversion came). CPO = cost /
attributed conversions, ROAS = attributed revenue / cost, both ratios of the period's sums and
empty where the denominator is 0 or the cost unknown (`costs`). The model shown is
`attribution.model` when it has been attributed, else the first one that has.
"""

from __future__ import annotations

import datetime as dt

from martops.attribution import tables as T
from martops.attribution.pipeline import first_gap
from martops.config import ProjectConfig
from martops.engine import Warehouse
from martops.reports import charts
from martops.reports.blocks import Chart, Column, Metric, ReportSection, Section, Table, change, cut_short, date_span
from martops.reports.filters import NO_FILTERS, Filters
from martops.reports.period import Period

FILTERS = {"channel": "channel_name", "model": "model"}
"""What the dashboard may narrow: channels (rows of marts.channel_reporting) and the model shown."""


def latest(wh: Warehouse) -> dt.date | None:
    if not wh.exists(T.CHANNEL_REPORTING):
        return None
    return wh.scalar(wh.table(T.CHANNEL_REPORTING).date.max())


def _covered(wh: Warehouse, model: str, p: Period) -> bool:
    """Whether the model's attributed conversion ranges (ops.attribution_ranges) cover every day of `p`.

    Credits are dated by their session, and a session's credits are complete only once every
    conversion its journeys can reach is attributed; a period outside the attributed ranges holds
    only the credits of later conversions, which would read as a fall."""
    if not wh.exists(T.RANGES):
        return False
    r = wh.table(T.RANGES)
    spans = wh.to_pyarrow(r.filter(r.model == model).select("since", "until").order_by("since")).to_pylist()
    return first_gap(spans, p.since) > p.until


def _ratio(num: float | None, den: float | None) -> float | None:
    return None if num is None or not den else num / den


def _reporting(wh: Warehouse, f: Filters):
    """marts.channel_reporting narrowed to the channels picked (the model is chosen, not filtered:
    the model comparison shows every one)."""
    return f.narrow(wh.table(T.CHANNEL_REPORTING), {"channel": FILTERS["channel"]})


def _by_channel(wh: Warehouse, model: str, p: Period, f: Filters) -> dict[str, dict]:
    t = _reporting(wh, f)
    t = t.filter((t.model == model) & t.date.between(p.since, p.until))
    g = t.group_by("channel_name").aggregate(cost=t.cost.sum(), conversions=t.ihc.sum(), revenue=t.ihc_revenue.sum(),
                                             unknown=t.unknown_cost_sessions.sum())
    return {r["channel_name"]: r for r in wh.to_pyarrow(g).to_pylist()}


def _totals(rows: dict[str, dict]) -> dict:
    costs = [r["cost"] for r in rows.values() if r["cost"] is not None]
    return {"cost": sum(costs) if costs else None, "conversions": sum(r["conversions"] or 0 for r in rows.values()),
            "revenue": sum(r["revenue"] or 0 for r in rows.values()),
            "unknown": sum(r["unknown"] or 0 for r in rows.values())}


def default_model(cfg: ProjectConfig, models: list[str]) -> str:
    """The model a report shows: `attribution.model` when it has been attributed, else the first."""
    return cfg.attribution.model if cfg.attribution.model in models else models[0]


def build(wh: Warehouse, period: Period, cfg: ProjectConfig, filters: Filters = NO_FILTERS) -> Section | None:
    if not wh.exists(T.CHANNEL_REPORTING):
        return None
    cr = wh.table(T.CHANNEL_REPORTING)
    models = sorted(r["model"] for r in wh.to_pyarrow(cr.select("model").distinct()).to_pylist())
    if not models:
        return None
    picked = filters.get("model")
    model = picked[0] if picked else default_model(cfg, models)
    section = Section("attribution", f"Attribution ({model})", period.text)
    if model not in models:
        section.empty = f"no sessions attributed with {model}; attributed models: {', '.join(models)}"
        return section
    prev = period.previous()
    now, before = _by_channel(wh, model, period, filters), _by_channel(wh, model, prev, filters)
    if not now:
        rows = _reporting(wh, filters)
        span = wh.to_pyarrow(rows.filter(rows.model == model).aggregate(a=rows.date.min(), b=rows.date.max())
                             ).to_pylist()[0]
        which = f"the channels picked ({', '.join(filters.get('channel'))})" if filters.get("channel") else model
        section.empty = (f"no attributed sessions dated in this period; {which}: data span {span['a']} to {span['b']}"
                         if span["a"] is not None else f"no sessions of {which} attributed with {model}")
        return section
    if before and not _covered(wh, model, prev):
        section.notes.append(f"The previous period ({prev.text}) is not wholly inside the ranges attributed with "
                             f"{model}, so its credits are incomplete: no week-over-week change is shown.")
        before = {}
    elif not before:
        section.notes.append(f"No attributed sessions in the previous period ({prev.text}): no week-over-week change.")
    last = wh.scalar(cr.filter(cr.model == model).date.max())
    if before and cut_short(section, last, period, f"{model}'s attributed sessions"):
        before = {}
    if not _covered(wh, model, period):
        section.notes.append(f"This period is not wholly inside the ranges attributed with {model}: its figures "
                             "count only the credits of conversions attributed so far.")
    cur, old = _totals(now), _totals(before)
    section.metrics = [
        Metric("attribution.cost", "Cost", cur["cost"], old["cost"] if before else None, "money", higher_is_better=None),
        Metric("attribution.conversions", "Attributed conversions", cur["conversions"],
               old["conversions"] if before else None, "number"),
        Metric("attribution.revenue", "Attributed revenue", cur["revenue"], old["revenue"] if before else None, "money"),
        Metric("attribution.cpo", "CPO", _ratio(cur["cost"], cur["conversions"]),
               _ratio(old["cost"], old["conversions"]) if before else None, "money", higher_is_better=False),
        Metric("attribution.roas", "ROAS", _ratio(cur["revenue"], cur["cost"]),
               _ratio(old["revenue"], old["cost"]) if before else None, "ratio"),
    ]
    if cur["unknown"]:
        section.notes.append(f"{cur['unknown']:,} session(s) have an unknown cost (empty or quarantined cost rows): "
                             "cost, CPO and ROAS leave them out.")
    channels = sorted(now, key=lambda c: -(now[c]["conversions"] or 0))
    rows = []
    for ch in channels:
        r, b = now[ch], before.get(ch)
        rows.append({"channel": ch, "cost": r["cost"], "conversions": r["conversions"], "revenue": r["revenue"],
                     "cpo": _ratio(r["cost"], r["conversions"]), "roas": _ratio(r["revenue"], r["cost"]),
                     "conversions_change": change(r["conversions"], b["conversions"]) if b else None})
    section.tables.append(Table("attribution.by_channel", f"By channel, {model}", [
        Column("channel", "Channel", "text"), Column("cost", "Cost", "money"),
        Column("conversions", "Conversions", "number"), Column("revenue", "Revenue", "money"),
        Column("cpo", "CPO", "money"), Column("roas", "ROAS", "ratio"),
        Column("conversions_change", "Conversions vs previous", "change")], rows))
    section.charts.append(Chart("attribution.cost_revenue", charts.bars(
        "Cost and attributed revenue by channel", period.text, channels,
        {"Cost": [now[c]["cost"] for c in channels], "Revenue": [now[c]["revenue"] for c in channels]}, "EUR")))
    section.charts.append(_trend(wh, model, period, filters, compare=bool(before)))
    if len(models) > 1:
        section.charts.append(_models(wh, models, period, filters))
    else:
        section.notes.append(f"Only {model} has been attributed: run another --model over the same range to compare.")
    return section


def _daily(wh: Warehouse, model: str, p: Period, f: Filters) -> dict[dt.date, dict]:
    t = _reporting(wh, f)
    t = t.filter((t.model == model) & t.date.between(p.since, p.until))
    g = t.group_by("date").aggregate(cost=t.cost.sum(), revenue=t.ihc_revenue.sum())
    return {r["date"]: r for r in wh.to_pyarrow(g).to_pylist()}


def _trend(wh: Warehouse, model: str, period: Period, f: Filters, compare: bool) -> Chart:
    """Day by day; with `compare`, the previous period (dashed) on the same day positions."""
    prev = period.previous()
    now = _daily(wh, model, period, f)
    days = [period.since + dt.timedelta(days=i) for i in range(period.days)]
    series = {"Cost": [now.get(d, {}).get("cost") for d in days],
              "Revenue": [now.get(d, {}).get("revenue") for d in days]}
    text = period.text
    if compare:
        before = _daily(wh, model, prev, f)
        back = [prev.since + dt.timedelta(days=i) for i in range(period.days)]
        series["Cost, previous period"] = [before.get(d, {}).get("cost") for d in back]
        series["Revenue, previous period"] = [before.get(d, {}).get("revenue") for d in back]
        text = f"{period.text}; dashed: {prev.text}"
    return Chart("attribution.trend", charts.lines("Cost and attributed revenue by day", text, days, series, "EUR",
                                                  dashed=("Cost, previous period", "Revenue, previous period")))


def _models(wh: Warehouse, models: list[str], period: Period, f: Filters) -> Chart:
    t = _reporting(wh, f)
    t = t.filter(t.date.between(period.since, period.until))
    g = wh.to_pyarrow(t.group_by(["model", "channel_name"]).aggregate(conversions=t.ihc.sum())).to_pylist()
    channels = sorted({r["channel_name"] for r in g})
    got = {(r["model"], r["channel_name"]): r["conversions"] for r in g}
    return Chart("attribution.models", charts.bars(
        "Attributed conversions by channel, each model", period.text, channels,
        {m: [got.get((m, c)) for c in channels] for m in models}, "conversions"))


def span(wh: Warehouse) -> tuple[dt.date, dt.date] | None:
    return date_span(wh, T.CHANNEL_REPORTING, "date")


REPORT = ReportSection(build, latest, span, title="Attribution", dated=True, table=T.CHANNEL_REPORTING,
                       filters=FILTERS, reads=(T.CHANNEL_REPORTING, T.RANGES))
