"""A report section as Streamlit elements: the same `Section` the weekly report lays out as HTML.

Headline figures become `st.metric` tiles (text formatted by `blocks.fmt`, as in the report; the
change against the previous period as the delta, coloured by whether a rise is good), tables
become sortable `st.dataframe`s holding the exact values (formatted per column unit), charts are
the report's own plotly figures. Text from the data is escaped: Streamlit reads markdown, and a
campaign called `*promo*` or a note with `$` must show as written.
"""

from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from martops.reports.blocks import Column, Metric, Section, Table, fmt
from martops.reports.render import PLOTLY_CONFIG

TEXT_WIDTH_MAX = 900
ROWS_SHOWN = 25
"""A table up to this many rows is shown whole; a longer one scrolls inside ten rows' height."""
FORMATS = {"count": "%,d", "money": "%,.2f", "ratio": "%.2fx", "share": "%.1f%%", "change": "%+.1f%%",
           "number": "%,.2f"}
"""Number formats per `blocks.UNITS` (Streamlit's printf style), as `blocks.fmt` writes them in the report."""
PERCENT = ("share", "change")
"""Units a table holds as fractions and shows as percentages (so its column holds 100 x the value)."""
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+!|~<>$:.-])")


def escape(text: str) -> str:
    """`text` shown as written by Streamlit's markdown (no emphasis, links, LaTeX or emoji codes)."""
    return _MARKDOWN.sub(r"\\\1", str(text))


def _delta(m: Metric) -> tuple[str | None, str, str]:
    """(the delta text, its colour rule, its arrow): the change and the previous figure, green when
    good; "no previous figure" in grey where there is nothing to compare with (as the report says)."""
    if not m.compare:
        return None, "off", "off"
    if m.change is None:
        return "no previous figure", "off", "off"
    colour = "off" if m.higher_is_better is None else "normal" if m.higher_is_better else "inverse"
    return f"{fmt(m.change, 'change')} vs {fmt(m.previous, m.unit)}", colour, "auto"


def metrics(items: list[Metric]) -> None:
    """Tiles as wide as their figures, wrapping onto as many rows as the screen needs."""
    with st.container(horizontal=True, gap="small"):
        for m in items:
            delta, colour, arrow = _delta(m)
            st.metric(m.label, fmt(m.value, m.unit), delta, delta_color=colour, delta_arrow=arrow, border=True,
                      width="content")


def frame(table: Table) -> pd.DataFrame:
    """The table's rows with its columns in order, headed by their labels: the exact values, shares
    and changes in percent (0.123 -> 12.3) so every row shows the same decimals (Streamlit's own
    percent format drops trailing zeros: 70.31% above 1.7%)."""
    def cell(row: dict, unit: str, name: str):
        value = row.get(name)
        return 100 * value if unit in PERCENT and isinstance(value, (int, float)) else value

    return pd.DataFrame([[cell(row, c.unit, c.name) for c in table.columns] for row in table.rows],
                        columns=[c.label or c.name for c in table.columns])


def _width(t: Table, column: Column) -> int:
    """Pixels for a column to show its heading and longest value whole, as `fmt` writes it (the
    grid's own sizing cut usage tiers' rules mid-word and the programme test's -478,392.25); at most
    TEXT_WIDTH_MAX."""
    def shown(value) -> str:
        return str(value if value is not None else "") if column.unit == "text" else fmt(value, column.unit)

    longest = max([len(column.label or column.name), *(len(shown(row.get(column.name))) for row in t.rows)])
    return int(min(TEXT_WIDTH_MAX, 24 + 7.5 * longest))


def table(t: Table, key: str) -> None:
    st.markdown(f"**{escape(t.title)}**")
    if not t.rows:
        st.caption("No rows.")
    else:
        config = {c.label or c.name: st.column_config.NumberColumn(format=FORMATS[c.unit], width=_width(t, c))
                  if c.unit in FORMATS else st.column_config.TextColumn(width=_width(t, c)) for c in t.columns}
        st.dataframe(frame(t), hide_index=True, column_config=config, key=key, placeholder="–", width="content",
                     height="content" if len(t.rows) <= ROWS_SHOWN else "auto")
    if t.note:
        st.caption(escape(t.note))


def section(s: Section) -> None:
    """Everything of `s` below its heading (the caller draws the heading and what the filters did)."""
    if s.empty:
        st.info(escape(s.empty[0].upper() + s.empty[1:]))
    if s.metrics:
        metrics(s.metrics)
    for t in s.tables:
        table(t, key=f"table.{t.key}")
    for chart in s.charts:
        st.plotly_chart(chart.figure, theme=None, config=PLOTLY_CONFIG, key=f"chart.{chart.key}")
    if s.notes:
        st.caption("\n".join(f"- {escape(n)}" for n in s.notes))
