"""The sidebar: the period and the filters, offered from the values the warehouse holds.

Channels are one list per section that has them: attribution names marketing channels
(`channel_reporting.channel_name`), the campaign mart the campaign dictionary's `channel_3`, two
vocabularies with no mapping between them, so one merged list would let a pick empty a section
whose channels merely have other names. Country and funnel narrow every section that has the
column; the model picks which attribution model the attribution section shows (none picked: the
one the weekly report shows).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from typing import Mapping

import streamlit as st

from martops.cli.common import parse_date
from martops.domain import Domain
from martops.errors import ConfigError
from martops.reports.filters import NAMES, Filters
from martops.reports.period import Period, iso_week_label, resolve

SHARED = ("country", "funnel", "model")
"""Filters with one widget for every section declaring them (`channel` gets one per section)."""


@dataclasses.dataclass(frozen=True)
class Choice:
    period: Period
    picked: dict[str, dict[str, tuple[str, ...]]]
    """Domain name -> filter name -> values picked in the widgets that reach that domain's section."""

    def filters(self, domain: Domain) -> Filters:
        """What `domain`'s section applies: the picks among the filters it declares."""
        declared = domain.report.filters if domain.report else {}
        return Filters.of(**{k: v for k, v in self.picked.get(domain.name, {}).items() if k in declared})

    def ignored(self, domain: Domain) -> list[str]:
        """Filters picked somewhere that `domain`'s section has no column for (the page says so)."""
        declared = domain.report.filters if domain.report else {}
        used = {name for picks in self.picked.values() for name, values in picks.items() if values}
        return [NAMES[n] for n in NAMES if n in used and n not in declared]


def period_of(since: dt.date, until: dt.date) -> Period:
    """A range, labelled as its ISO week when it is one (as `--week` would)."""
    week = (until - since).days == 6 and since.isoweekday() == 1
    return Period(since, until, iso_week_label(since) if week else "")


def linked(params: Mapping[str, str], default: Period) -> Period:
    """The period a link asks for (`?week=2023-W36`, or `?since=2023-09-01&until=2023-09-07`), else
    `default` (the last complete ISO week of the dated sections' data).
    A malformed one is said in the sidebar, not an error page."""
    week, since, until = (params.get(k) for k in ("week", "since", "until"))
    if not (week or since or until):
        return default
    try:
        return resolve(week, parse_date(since, "since"), parse_date(until, "until"), None)
    except ConfigError as exc:
        st.sidebar.warning(f"The link's period is not used: {exc}".replace("--", ""))
        return default


def draw(providers: list[Domain], options: dict[tuple[str, str], list[str]], default: Period) -> Choice:
    """The widgets (keys: `period`, `channel.<domain>`, `country`, `funnel`, `model`) and what they hold.
    `options`: (domain, filter) -> the values its table holds."""
    bar = st.sidebar
    bar.header("Filters")
    picked_range = bar.date_input("Date range", value=(default.since, default.until), key="period",
                                  format="YYYY-MM-DD",
                                  help="The period the dated sections cover; each compares it with the same "
                                       "number of days just before. Opens on the last complete ISO week of their data.")
    dates = [d for d in (picked_range if isinstance(picked_range, (tuple, list)) else [picked_range]) if d]
    if not dates:
        bar.warning("No date picked: showing the default period.")
        period = default
    else:
        period = period_of(dates[0], dates[-1])
        if len(dates) == 1:
            bar.caption(f"One day picked: {dates[0].isoformat()} (pick an end date for a range).")
    picked: dict[str, dict[str, tuple[str, ...]]] = {d.name: {} for d in providers}
    for d in providers:
        values = options.get((d.name, "channel"), [])
        if values:
            chosen = bar.multiselect(f"Channel: {d.report.title}", values, key=f"channel.{d.name}",
                                     placeholder="All channels")
            picked[d.name]["channel"] = tuple(chosen)
    for name in SHARED:
        holders = [d for d in providers if name in (d.report.filters if d.report else {})]
        values = sorted({v for d in holders for v in options.get((d.name, name), [])})
        if not values:
            continue
        where = ", ".join(d.report.title for d in holders)
        if name == "model":
            chosen = bar.selectbox(f"Attribution model ({where})", values, index=None, key="model",
                                   placeholder="As in the weekly report",
                                   help="The model whose credits the attribution section shows; empty: "
                                        "martops.yml's attribution.model when it has been attributed.")
            chosen = (chosen,) if chosen else ()
        else:
            chosen = tuple(bar.multiselect(f"{NAMES[name].capitalize()} ({where})", values, key=name,
                                           placeholder=f"All {NAMES[name]}s" if name != "country" else "All countries"))
        for d in holders:
            picked[d.name][name] = chosen
    bar.caption("A filter narrows the sections that hold its column; every other section says it ignores it.")
    return Choice(period, picked)
