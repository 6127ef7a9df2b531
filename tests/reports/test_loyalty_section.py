"""The loyalty section: the programme's counts are whole numbers, its money is in currency units,
every figure equals `loyalty.programme_summary` / `loyalty.points_liability`, and no series of a
chart lies on top of another (the liability used to hide under the points outstanding)."""

from __future__ import annotations

import re

import pytest

from martops.config import ProjectConfig
from martops.engine import connect
from martops.loyalty import report_section
from martops.reports.period import parse_week
from tests.reports.page import read


def _figure_text(html: str, key: str) -> str:
    """What the tile of metric `key` shows."""
    m = re.search(rf'data-metric="{re.escape(key)}".*?<div class="figure">([^<]*)</div>', html, flags=re.S)
    assert m, key
    return m.group(1)


def test_programme_counts_are_whole_numbers_and_money_is_in_currency_units(demo_warehouse, page_html):
    with connect(path=demo_warehouse, read_only=True) as w:
        summary = {r[0]: r[1:] for r in w.execute("SELECT measure, value, ci_low, ci_high FROM loyalty.programme_summary")}
    page = read(page_html)
    for measure in ("customers_enrolled", "customers_control", "points_outstanding"):
        key = f"loyalty.{measure}"
        value = summary[measure][0]
        assert value == int(value) and page.metrics[key]["value"] == str(int(value))  # no "165.0"
        assert _figure_text(page_html, key) == f"{int(value):,}"
    assert float(page.metrics["loyalty.points_liability"]["value"]) == pytest.approx(summary["points_liability"][0] / 100)
    assert _figure_text(page_html, "loyalty.points_liability") == f"{summary['points_liability'][0] / 100:,.2f}"
    assert _figure_text(page_html, "loyalty.revenue_loss_share") == f"{100 * summary['revenue_loss_share'][0]:.1f}%"
    effects = {r["measure"]: r for r in page.cells["loyalty.programme"]}
    incremental = effects["Incremental net revenue"]
    for column, i in (("value", 0), ("ci_low", 1), ("ci_high", 2)):
        assert float(incremental[column]) == pytest.approx(summary["incremental_net_revenue"][i] / 100, rel=1e-12)
    assert len(effects) == 3  # the estimates with intervals; the states are tiles
    assert "programme test (as of" not in page_html.lower()


def test_the_liability_is_drawn_where_nothing_covers_it(demo_warehouse):
    """Each chart's series are told apart: no two in one chart are a constant multiple of each other
    (on two auto-scaled axes such lines coincide, the later one over the earlier)."""
    with connect(path=demo_warehouse, read_only=True) as w:
        section = report_section.build(w, parse_week("2023-W36"), ProjectConfig())
        months = w.execute("SELECT month, liability_cents, points_earned, points_redeemed FROM "
                           "loyalty.points_liability ORDER BY month")
    charts = {c.key: c.figure for c in section.charts}
    assert set(charts) == {"loyalty.liability", "loyalty.points"}
    liability, = charts["loyalty.liability"].data
    assert liability.name == "Liability" and list(liability.y) == pytest.approx([m[1] / 100 for m in months])
    earned, redeemed = charts["loyalty.points"].data
    assert list(earned.y) == [m[2] for m in months] and list(redeemed.y) == [m[3] for m in months]
    for key, figure in charts.items():
        series = [list(t.y) for t in figure.data]
        for i, a in enumerate(series):
            for b in series[i + 1:]:
                ratios = {round(x / y, 9) for x, y in zip(a, b) if y}
                assert len(ratios) > 1, f"{key}: two series are proportional, so one hides the other"
