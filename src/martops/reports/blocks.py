"""What a report section holds: headline figures, tables and charts, each with the period it covers.

Plain data, no HTML: the sections compute, `render` lays out. Every figure keeps its exact value
(`Metric.value`, table cells) beside its display text, so a test can compare what is shown with
the warehouse query behind it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from typing import TYPE_CHECKING, Any, Callable, Mapping

if TYPE_CHECKING:
    from martops.engine import Warehouse
    from martops.reports.period import Period

UNITS = ("count", "money", "ratio", "share", "change", "number", "text")


def fmt(value: Any, unit: str = "number") -> str:
    """Display text: thousands separators; money with 2 decimals; a ratio as 2.35x; a share as 12.3%.
    None (a ratio over zero, an unknown cost) shows as an en dash, never as 0."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, str):
        return value
    if unit == "count":
        return f"{value:,.0f}"
    if unit == "money":
        return f"{value:,.2f}"
    if unit == "ratio":
        return f"{value:,.2f}x"
    if unit == "change":
        return f"{100 * value:+.1f}%"
    if unit == "share":
        return f"{100 * value:.1f}%"
    return f"{value:,.2f}" if isinstance(value, float) else f"{value:,}"


def change(value: float | None, previous: float | None) -> float | None:
    """Relative change value / previous - 1; None when either is unknown or previous is 0."""
    if value is None or previous is None or previous == 0:
        return None
    return value / previous - 1


@dataclasses.dataclass
class Metric:
    key: str
    """Stable id (`attribution.cost`), written into the page as data-metric for tests and scrapers."""
    label: str
    value: float | None
    previous: float | None = None
    unit: str = "number"
    compare: bool = True
    """False for a state figure (as of the last build) that has no previous period."""
    higher_is_better: bool | None = True
    """Colours the change: a rise in revenue is good, in CAC bad; None: neither (spend, counts of work)."""

    @property
    def tone(self) -> str:
        """good, bad or neutral: how the change reads (the page colours it)."""
        c = self.change
        if c is None or c == 0 or self.higher_is_better is None:
            return "neutral"
        return "good" if (c > 0) == self.higher_is_better else "bad"

    @property
    def change(self) -> float | None:
        return change(self.value, self.previous) if self.compare else None


@dataclasses.dataclass
class Column:
    name: str
    label: str
    unit: str = "number"


@dataclasses.dataclass
class Table:
    key: str
    title: str
    columns: list[Column]
    rows: list[dict]
    note: str = ""


@dataclasses.dataclass
class Chart:
    key: str
    figure: Any
    """A plotly Figure whose title carries the period it shows (`charts.bars`, `charts.lines`)."""


@dataclasses.dataclass
class Section:
    key: str
    title: str
    period: str
    """What the section covers: the report's period, or 'as of' for a state built once."""
    metrics: list[Metric] = dataclasses.field(default_factory=list)
    tables: list[Table] = dataclasses.field(default_factory=list)
    charts: list[Chart] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    empty: str = ""
    """Why the section has nothing to show in the period (its domain's data lie elsewhere)."""


@dataclasses.dataclass(frozen=True)
class ReportSection:
    """A domain's part of the weekly report and of the dashboard (`Domain.report`)."""

    build: Callable[..., Section | None]
    """`build(wh, period, cfg, filters=NO_FILTERS)`: the section for a period, narrowed by the
    filters it declares; None when the warehouse holds none of the domain's tables."""
    latest: Callable[["Warehouse"], dt.date | None] = lambda wh: None
    """The newest date the domain's dated data reach (None: none, or a state with no dates): a
    report with no period given covers the ISO week holding the newest of these."""
    span: Callable[["Warehouse"], "tuple[dt.date, dt.date] | None"] = lambda wh: None
    """The first and last day the domain's data describe (None: no dated data): a report refuses a
    period that meets none of the domains' spans, rather than publish states as of another time."""
    title: str = ""
    """The section's heading where it has nothing to show (the dashboard names what builds it)."""
    dated: bool = False
    """True: the section covers the period asked for; False: a state as of the domain's last build,
    which a date range does not change."""
    table: str | None = None
    """The table `filters` narrow (the dashboard offers its values)."""
    filters: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """Filter name (`filters.NAMES`) -> the column of `table` it narrows."""
    reads: tuple[str, ...] = ()
    """The warehouse tables `build` reads: the inputs of the `report.weekly` step, so the step
    runs after the steps that write them."""


def date_span(wh: "Warehouse", table: str, first: str, last: str | None = None) -> "tuple[dt.date, dt.date] | None":
    """(min of `first`, max of `last`, default `first`) of a table as days; None when it is missing or
    either end is NULL (no rows, or a month-grain mart without days)."""
    from martops.reports.period import as_day

    if not wh.exists(table):
        return None
    t = wh.table(table)
    row = wh.to_pyarrow(t.aggregate(a=t[first].min(), b=t[last or first].max())).to_pylist()[0]
    a, b = as_day(row["a"]), as_day(row["b"])
    return (a, b) if a is not None and b is not None else None


def cut_short(section: Section, last: object, period: "Period", what: str) -> bool:
    """True (and a note on `section`) when the data end inside the period: its totals then cover
    fewer days than the previous period's, so a change would read as a fall that is not there."""
    from martops.reports.period import as_day

    day = as_day(last)
    if day is None or day >= period.until:
        return False
    section.notes.append(f"The {what} run only to {day.isoformat()}, inside this period: its figures cover "
                         f"{(day - period.since).days + 1} of its {period.days} days, so no change is shown.")
    return True
