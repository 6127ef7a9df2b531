"""The dashboard's page: the weekly report's sections, live on the warehouse, narrowed by the sidebar.

Streamlit runs `main` on every visit and every widget change. The warehouse is opened read-only
for each run and closed at its end, so a pipeline can still write between two clicks (DuckDB
allows one writer; a dashboard holding the file open would block `martops run`). A section is
built by the same function the weekly report calls (`Domain.report.build`), cached per period,
filters and state of the warehouse file (its size and modification time; on PostgreSQL, for
`SERVER_TTL` seconds), so flipping a filter back does not query again. The data-health section
runs every check, the slowest part, so it comes last and is cached the same way.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from pathlib import Path

import streamlit as st

from martops import domains
from martops.cli.boundary import write_log
from martops.cli.common import open_warehouse
from martops.config import ProjectConfig
from martops.dashboard import draw
from martops.dashboard.sidebar import Choice, draw as draw_sidebar, linked
from martops.domain import Domain
from martops.engine import Warehouse
from martops.errors import MartopsError
from martops.reports import health as H
from martops.reports.blocks import Section
from martops.reports.filters import NAMES, Filters, values
from martops.reports.period import Period, as_day, resolve
from martops.reports.weekly import outside

TITLE = "Marketing dashboard"
SERVER_TTL = 300
"""Seconds a PostgreSQL warehouse's sections and checks are reused (no file to watch for changes)."""


def providers() -> list[Domain]:
    """The domains with a report section, in data-flow order (as the weekly report)."""
    return [d for d in domains.DOMAINS if d.report is not None]


def stamp(wh: Warehouse) -> str:
    """What changes when the warehouse's data may have: a DuckDB file's (and its WAL's) size and
    modification time; for a server, the current SERVER_TTL slot."""
    path = Path(wh.location)
    if path.is_file():
        files = [p for p in (path, path.with_name(path.name + ".wal")) if p.exists()]
        return ";".join(f"{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files)
    return f"slot {int(time.time() // SERVER_TTL)}"


@st.cache_data(show_spinner=False, max_entries=64)
def _options(location: str, version: str,
             _wh: Warehouse) -> tuple[dict[tuple[str, str], list[str]], dict[str, dt.date]]:
    """(domain, filter) -> values its table holds; domain -> the newest date its data reach."""
    options = {(d.name, name): values(_wh, d.report.table, column)
               for d in providers() if d.report.table for name, column in d.report.filters.items()}
    dates = {d.name: as_day(d.report.latest(_wh)) for d in providers()}
    return options, {name: day for name, day in dates.items() if day is not None}


@st.cache_data(show_spinner=False, max_entries=512)
def _build(domain: str, location: str, version: str, settings: str, since: dt.date, until: dt.date, label: str,
           picked: tuple, _wh: Warehouse, _cfg: ProjectConfig) -> Section | None:
    return domains.domain(domain).report.build(_wh, Period(since, until, label), _cfg, Filters(picked))


@st.cache_data(show_spinner="Running the data checks…", max_entries=16)
def _health(location: str, version: str, settings: str, _wh: Warehouse,
            _cfg: ProjectConfig) -> tuple[Section, list[str]]:
    health = H.assess(_wh, _cfg, domains.catalog(), domains.status_sources())
    return H.section(health, checked="when the dashboard ran them"), health.blockers


def _failed(title: str | None, exc: BaseException) -> None:
    """One line in the page for what could not be shown: a martops error as it says it, anything
    else as a bug whose traceback goes to a log file (as `cli.boundary` does)."""
    if isinstance(exc, MartopsError):
        st.error(draw.escape(f"{title}: {exc}" if title else str(exc)))
        return
    path = write_log(exc, ["dashboard"])
    message = (str(exc).strip().splitlines() or [""])[0][:300]
    where = f"full traceback in {path}" if path else "no log folder was writable"
    st.error(draw.escape(f"{title or 'The warehouse'}: unexpected {type(exc).__name__}: {message}. This is a "
                         f"martops bug; {where}."))


def _scope(domain: Domain, choice: Choice) -> str:
    """What the sidebar did to this section, and which of its settings this section ignores."""
    parts = [f"Filtered to {NAMES[name]} {', '.join(picks)}" for name, picks in choice.filters(domain).picked]
    if not domain.report.dated:
        parts.append("the date range does not apply (a state as of the last build)")
    ignored = choice.ignored(domain)
    if ignored:
        parts.append(f"not filtered by {', '.join(ignored)} (no such column here)")
    return " · ".join(parts)


def _hint(domain: Domain) -> str:
    """`build it first: martops kpis build ...` as words and a command to copy."""
    words, _, command = domain.build_hint.partition(": ")
    if not command.startswith("martops "):
        return draw.escape(domain.build_hint or "build it with its domain's command (martops --help)")
    return f"{draw.escape(words[0].upper() + words[1:])}: `{command}`"


def _show(period: Period) -> None:
    st.session_state["period"] = (period.since, period.until)


def _domain_section(domain: Domain, wh: Warehouse, cfg: ProjectConfig, choice: Choice, keys: tuple,
                    latest: dt.date | None) -> None:
    rs = domain.report
    p = choice.period
    with st.container(key=f"section-{domain.name}"):
        try:
            section = _build(domain.name, *keys, p.since, p.until, p.label, choice.filters(domain).picked, wh, cfg)
        except Exception as exc:  # noqa: BLE001 - one section failing must not take the page down
            st.header(rs.title, anchor=domain.name)
            _failed(rs.title, exc)
            return
        st.header(section.title if section else rs.title, anchor=domain.name)
        if section is None:
            st.info(f"No {draw.escape(rs.title)} data in this warehouse yet. {_hint(domain)}")
            return
        st.caption(draw.escape(" · ".join([section.period, *filter(None, [_scope(domain, choice)])])))
        if section.empty and rs.dated:
            section = dataclasses.replace(section, empty=f"{section.empty}; pick another date range in the sidebar")
        draw.section(section)
        if section.empty and rs.dated and latest is not None:
            week = resolve(None, None, None, latest)
            if week != choice.period:
                st.button(f"Show {week.text}, the last complete week of these data", key=f"show.{domain.name}",
                          on_click=_show, args=(week,))


def _health_section(wh: Warehouse, cfg: ProjectConfig, keys: tuple) -> None:
    with st.container(key="section-health"):
        st.header("Data health", anchor="health")
        try:
            section, blockers = _health(*keys, wh, cfg)
        except Exception as exc:  # noqa: BLE001
            _failed("Data health", exc)
            return
        st.caption(draw.escape(f"{section.period} · the date range and the filters do not apply (every check "
                               "runs on the whole warehouse as it is now)"))
        if blockers:
            st.warning(draw.escape(f"{len(blockers)} error check(s) fail, so `martops report weekly` would not "
                                   f"publish: {'; '.join(blockers[:5])}"))
        draw.section(section)


def main(warehouse: str | None = None, config: str | None = None) -> None:
    """The page on the warehouse `--warehouse` names (else martops.yml's), read-only. Whatever goes
    wrong is one line on the page (`_failed`), never Streamlit's traceback box."""
    st.set_page_config(page_title=f"martops · {TITLE}", layout="wide")
    try:
        cfg, wh = open_warehouse(Path(config) if config else None, warehouse, read_only=True)
    except Exception as exc:  # noqa: BLE001 - the page's boundary, as `cli.boundary` is the command's
        _failed(None, exc)
        return
    with wh:
        try:
            _page(wh, cfg)
        except Exception as exc:  # noqa: BLE001
            _failed("The dashboard", exc)


def _page(wh: Warehouse, cfg: ProjectConfig) -> None:
    version = stamp(wh)
    keys = (wh.location, version, cfg.model_dump_json())
    options, latest = _options(wh.location, version, wh)
    # the range narrows only the dated sections, so it opens on their newest complete week (a usage
    # build's as-of day, later than every campaign, would open on a week where they all are empty)
    dated = [day for name, day in latest.items() if domains.domain(name).report.dated]
    default = resolve(None, None, None, max(dated or latest.values() or [dt.date.today()]))
    choice = draw_sidebar(providers(), options, linked(st.query_params, default))
    st.title(TITLE)
    copy = " (a copy: another process is writing it)" if wh.reading_copy is not None else ""
    st.caption(draw.escape(f"{wh.location}{copy}, read-only · {choice.period.text}, compared with "
                           f"{choice.period.previous().text}"))
    if (why := outside(wh, [d.report for d in providers()], choice.period)) is not None:
        st.warning(draw.escape(f"{why[0].upper()}{why[1:]}: pick a date range inside them in the sidebar "
                               "(the states below are as of their last build, not of this range)"))
    st.markdown(" · ".join(f"[{d.report.title}](#{d.name})" for d in providers()) + " · [Data health](#health)")
    for d in providers():
        _domain_section(d, wh, cfg, choice, keys, latest.get(d.name))
    _health_section(wh, cfg, keys)
