"""Plotly figures in one house style, each titled with the period it shows.

Only plain bar and line charts: they print, survive a screenshot for e-mail and read the same
on every screen. No chart fetches anything (no maps, no web fonts), so a report opened offline
shows every chart.
"""

from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go

PALETTE = ["#2E5EAA", "#E07A1F", "#3C9D5D", "#B23A48", "#7D5BA6", "#5B8E7D", "#C9A227", "#4A4A4A"]


def _layout(fig: go.Figure, title: str, period: str, y_title: str = "", right_title: str | None = None) -> go.Figure:
    """House style; `right_title`: a second y axis on the right for the series drawn against it."""
    if right_title is not None:  # its own round ticks; both axes from 0, so the two zeros share a line
        fig.update_layout(yaxis2={"title": right_title, "overlaying": "y", "side": "right", "showgrid": False,
                                  "tickmode": "auto", "rangemode": "tozero", "automargin": True},
                          yaxis={"rangemode": "tozero"})
    fig.update_layout(
        title={"text": f"{title}<br><sup>{period}</sup>", "x": 0.01, "xanchor": "left"},
        template="plotly_white", colorway=PALETTE, height=360,
        margin={"l": 60, "r": 20, "t": 70, "b": 10},
        # the legend at the foot of the figure and margins that grow to fit the tick labels: long category
        # names (16 channels) rotate on a narrow screen, and would otherwise be cut or run under the legend
        legend={"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "x": 0.01, "xanchor": "left"},
        xaxis={"automargin": True}, yaxis={"automargin": True},
        font={"family": "Helvetica, Arial, sans-serif", "size": 12}, yaxis_title=y_title,
    )
    return fig


def bars(title: str, period: str, categories: Sequence[str], series: dict[str, Sequence[float | None]],
         y_title: str = "", right: Sequence[str] = (), right_title: str = "") -> go.Figure:
    """Grouped bars, one per category and series; series named in `right` are drawn as markers
    against a second y axis on the right (another unit, such as CAC beside spend)."""
    fig = go.Figure([go.Scatter(name=name, x=list(categories), y=list(values), mode="markers", yaxis="y2",
                                marker={"size": 10, "symbol": "diamond"}) if name in right else
                     go.Bar(name=name, x=list(categories), y=list(values)) for name, values in series.items()])
    fig.update_layout(barmode="group")
    return _layout(fig, title, period, y_title, right_title if right else None)


def lines(title: str, period: str, x: Sequence, series: dict[str, Sequence[float | None]],
          y_title: str = "", dashed: Sequence[str] = (), right: Sequence[str] = (), right_title: str = "") -> go.Figure:
    """One line per series over `x` (dates); series named in `dashed` are drawn dashed (a previous
    period), those in `right` against a second y axis on the right (another unit)."""
    fig = go.Figure([go.Scatter(name=name, x=list(x), y=list(values), mode="lines+markers",
                                line={"dash": "dash"} if name in dashed else {},
                                yaxis="y2" if name in right else "y")
                     for name, values in series.items()])
    return _layout(fig, title, period, y_title, right_title if right else None)
