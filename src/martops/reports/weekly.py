"""`martops report weekly`: build the report for a period, gate it on data health, publish it.

Nothing is written here: a blocked report raises before any file is touched, and the files are
published all or nothing by `martops.reports.publish`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from martops.checks.catalog import Catalog
from martops.config import ProjectConfig
from martops.engine import Warehouse
from martops.errors import ConfigError, StepError
from martops.ops.status import Sources
from martops.reports import health as H
from martops.reports.blocks import ReportSection, Section
from martops.reports.publish import GENERATOR, PDF_TITLE
from martops.reports.period import Period, as_day, resolve
from martops.reports.render import render

TITLE = PDF_TITLE


class ReportBlocked(StepError):
    """The data failed an error check (staleness included): nothing was published."""


@dataclasses.dataclass
class Built:
    html: str
    period: Period
    sections: list[Section]
    health: H.Health
    banner: list[str]


def newest(wh: Warehouse, providers: list[ReportSection]) -> dt.date | None:
    """The newest date the dated domains' data reach (attribution, campaigns, loyalty), else the states'
    (a usage build's as-of day); None: none has any. A state's day is often later than every
    campaign's, and would pick a week in which every dated section is empty (as the dashboard opens)."""
    for group in ([p for p in providers if p.dated], providers):
        dates = [d for d in (as_day(p.latest(wh)) for p in group) if d is not None]
        if dates:
            return max(dates)
    return None


def outside(wh: Warehouse, providers: list[ReportSection], period: Period) -> str | None:
    """Why the period lies outside every domain's dated data (naming their spans), else None.

    Without this a warehouse of states alone (usage tiers, CRM segments) would publish a report for
    any week, 1999 or 2030, with exit 0: its sections never come out empty."""
    spans = [(p.title, s) for p in providers if (s := p.span(wh)) is not None]
    if not spans or any(a <= period.until and b >= period.since for _, (a, b) in spans):
        return None
    each = "; ".join(f"{title} {a} to {b}" for title, (a, b) in spans)
    return f"no domain has data dated {period.since}..{period.until}; the warehouse's dated data: {each}"


def build(wh: Warehouse, cfg: ProjectConfig, providers: list[ReportSection], known: Catalog, sources: Sources, *,
          week: str | None = None, since: dt.date | None = None, until: dt.date | None = None,
          allow_stale: bool = False) -> Built:
    """The report's page for the period asked for (see `period.resolve`). ReportBlocked when an
    error check fails, unless `allow_stale` (then the page opens with a banner naming each failure);
    ConfigError when no domain has anything to report, or the period lies outside every domain's
    dated data (`outside`)."""
    # only a report with no period asks each domain its newest date
    period = resolve(week, since, until, None if week or since or until else newest(wh, providers))
    if (why := outside(wh, providers, period)) is not None:
        raise ConfigError(f"{why}; pick a period inside them, or omit the period for the last complete week")
    sections = [s for s in (p.build(wh, period, cfg) for p in providers) if s is not None]
    if not sections:
        raise ConfigError(f"{wh.location}: no domain has built its tables here yet, so there is nothing to report; "
                          "run `martops run` (or a domain's build) first")
    if all(s.empty for s in sections):
        raise ConfigError(f"no domain has data dated {period.since}..{period.until}: "
                          + "; ".join(f"{s.title}: {s.empty}" for s in sections))
    health = H.assess(wh, cfg, known, sources)
    broken = [r for r in health.results if r.status == "error"]
    if broken:  # a check that cannot run says nothing about the data: no --allow-stale past it
        r = broken[0]
        raise ConfigError(f"{len(broken)} check(s) could not run, so the data cannot be vouched for: {r.table}: "
                          f"{r.check}: {r.message}; fix the check (martops.yml `checks:`), `martops check` lists them")
    blockers = health.blockers
    if blockers and not allow_stale:
        shown = "; ".join(blockers[:5]) + (f"; and {len(blockers) - 5} more" if len(blockers) > 5 else "")
        raise ReportBlocked(f"report not published: {len(blockers)} error check(s) failed ({shown}). Fix the data "
                            "(`martops check` lists them) or pass --allow-stale to publish with a banner")
    sections.append(H.section(health))
    page = render(sections, period, title=TITLE, generated=health.checked_at, banner=blockers)
    page = page.replace("<head>", "<head>\n" + GENERATOR, 1)
    return Built(page, period, sections, health, blockers)
