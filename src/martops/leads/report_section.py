"""The lead-scoring part of the weekly report: the latest scoring run (its as-of date): leads per
grade, how many are sales-ready, and the hottest leads with their reasons. A scoring run is a state
as of its date, so no week-over-week change is shown.
"""

from __future__ import annotations

import ibis

from martops.config import ProjectConfig
from martops.engine import Warehouse
from martops.leads import tables as T
from martops.reports.blocks import Column, Metric, ReportSection, Section, Table
from martops.reports.filters import NO_FILTERS, Filters
from martops.reports.period import Period

HOTTEST = 10


def latest(wh: Warehouse):
    return wh.scalar(wh.table(T.SCORES).as_of.max()) if wh.exists(T.SCORES) else None


def build(wh: Warehouse, period: Period, cfg: ProjectConfig, filters: Filters = NO_FILTERS) -> Section | None:
    if not wh.exists(T.SCORES):
        return None
    s = wh.table(T.SCORES)
    day = wh.scalar(s.as_of.max())
    if day is None:
        return None
    s = s.filter(s.as_of == day)
    section = Section("leads", "Lead scores", f"the scoring run as of {str(day)[:10]}")
    head = wh.to_pyarrow(s.aggregate(n=s.count(), ready=s.sales_ready.cast("int64").sum(),
                                     p=s.probability.mean())).to_pylist()[0]
    section.metrics = [
        Metric("leads.scored", "Leads scored", head["n"], unit="count", compare=False),
        Metric("leads.sales_ready", "Sales-ready", head["ready"] or 0, unit="count", compare=False),
        Metric("leads.mean_probability", "Mean conversion probability", head["p"], unit="share", compare=False),
    ]
    grades = wh.to_pyarrow(s.group_by("grade").aggregate(leads=s.count(), ready=s.sales_ready.cast("int64").sum(),
                                                         probability=s.probability.mean()).order_by("grade")).to_pylist()
    section.tables.append(Table("leads.grades", "Leads per grade (rules)", [
        Column("grade", "Grade", "text"), Column("leads", "Leads", "count"), Column("ready", "Sales-ready", "count"),
        Column("probability", "Mean probability", "share")], grades))
    hot = wh.to_pyarrow(s.order_by([ibis.desc("score"), ibis.desc("rules_score"), "lead_id"]).limit(HOTTEST)
                        .select("lead_id", "score", "rules_score", "grade", "top_reasons")).to_pylist()
    section.tables.append(Table("leads.hottest", f"The {HOTTEST} hottest leads", [
        Column("lead_id", "Lead", "text"), Column("score", "Score", "count"), Column("rules_score", "Rules", "number"),
        Column("grade", "Grade", "text"), Column("top_reasons", "Top reasons", "text")], hot))
    return section


REPORT = ReportSection(build, latest, title="Lead scores", reads=(T.SCORES,))
