"""A report as one self-contained HTML file: styles inline, plotly.js inlined once, every chart
drawn from data in the page. Opening it makes no network request (tests/reports checks the page
in Chromium with every outside request blocked).

Each headline figure and table cell carries its exact value (`data-value`) beside the text
shown, so what the page says can be compared with the warehouse query behind it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from importlib import resources

import jinja2
import plotly.io as pio
import plotly.offline

from martops.reports.blocks import Section, fmt
from martops.reports.period import Period

PLOTLY_CONFIG = {"displaylogo": False, "responsive": True,
                 "modeBarButtonsToRemove": ["sendDataToCloud", "lasso2d", "select2d"]}


def _value(v: object) -> str:
    """The value for data-value: a float to 13 significant digits, ISO dates, '' for None.

    Not the float's full repr: a parallel SUM over doubles adds in a different order each run,
    so the last bit moves between two builds of the same week; 13 digits (relative 5e-13) keep
    every figure a report shows and make a rebuild print the same page.
    """
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    return repr(float(f"{v:.13g}")) if isinstance(v, float) else str(v)


def environment() -> jinja2.Environment:
    """The templates of martops.reports (autoescaped; `fmt` and `value` filters)."""
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(lambda name: resources.files("martops.reports").joinpath("templates", name)
                                     .read_text("utf-8")),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(fmt=fmt, value=_value)
    return env


def chart_div(figure, key: str) -> str:
    """The chart as a <div> and the script drawing it; plotly.js itself is inlined once by the page."""
    return pio.to_html(figure, full_html=False, include_plotlyjs=False, include_mathjax=False,
                       div_id=f"chart-{key.replace('.', '-')}", config=PLOTLY_CONFIG)


def render(sections: list[Section], period: Period, *, title: str, generated: dt.datetime,
           banner: list[str] | None = None) -> str:
    """The whole page. `banner`: reasons the report was published despite its health (--allow-stale)."""
    charts = {c.key: chart_div(c.figure, c.key) for s in sections for c in s.charts}
    page = environment().get_template("weekly.html.j2").render(
        title=title, period=period, previous=period.previous(), sections=sections, charts=charts,
        generated=generated.strftime("%Y-%m-%d %H:%M"), banner=banner or [],
        plotly_js=plotly.offline.get_plotlyjs(), data=json.dumps({"since": period.since.isoformat(),
                                                                   "until": period.until.isoformat()}))
    return page

