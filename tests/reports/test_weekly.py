"""`martops report weekly`: every figure equals the warehouse query behind it, the page stands alone,
and data that fails its checks blocks the report while the last good one stays."""

from __future__ import annotations

import datetime as dt
import os
import shutil

import pytest
from hypothesis import given, strategies as st

from martops.engine import connect
from martops.reports.period import Period, iso_week_label, parse_week
from tests.cli_runner import run_cli
from tests.reports.conftest import WEEK
from tests.reports.page import read


def report(capsys, wh, out, *extra):
    return run_cli(capsys, "report", "weekly", "--warehouse", wh, "--out", out, *extra)


def _one(wh, sql, params=()):
    with connect(path=wh, read_only=True) as w:
        return w.execute(sql, list(params))[0]


def test_headline_figures_equal_the_warehouse(demo_warehouse, page_html):
    m = read(page_html).metrics
    since, until = dt.date.fromisoformat(WEEK[0]), dt.date.fromisoformat(WEEK[1])
    cost, conv, rev = _one(demo_warehouse, "SELECT sum(cost), sum(ihc), sum(ihc_revenue) FROM marts.channel_reporting "
                                           "WHERE model = 'ihc' AND date BETWEEN ? AND ?", [since, until])
    assert float(m["attribution.cost"]["value"]) == pytest.approx(cost, rel=1e-12)
    assert float(m["attribution.conversions"]["value"]) == pytest.approx(conv, rel=1e-12)
    assert float(m["attribution.revenue"]["value"]) == pytest.approx(rev, rel=1e-12)
    assert float(m["attribution.roas"]["value"]) == pytest.approx(rev / cost, rel=1e-12)
    assert float(m["attribution.cpo"]["value"]) == pytest.approx(cost / conv, rel=1e-12)
    spend, acq, leads, lead_spend = _one(
        demo_warehouse, "SELECT sum(spend_eur), sum(acquisitions), sum(leads), sum(lead_spend_eur) "
                        "FROM marts.campaign_kpis_daily WHERE date BETWEEN ? AND ?", [since, until])
    assert float(m["campaigns.spend_eur"]["value"]) == pytest.approx(spend, rel=1e-12)
    assert float(m["campaigns.cac"]["value"]) == pytest.approx(spend / acq, rel=1e-12)
    assert float(m["campaigns.cpl"]["value"]) == pytest.approx(lead_spend / leads, rel=1e-12)
    prev_spend, = _one(demo_warehouse, "SELECT sum(spend_eur) FROM marts.campaign_kpis_daily WHERE date BETWEEN ? AND ?",
                       [since - dt.timedelta(days=7), since - dt.timedelta(days=1)])
    assert float(m["campaigns.spend_eur"]["previous"]) == pytest.approx(prev_spend, rel=1e-12)


def test_table_cells_equal_the_warehouse(demo_warehouse, page_html):
    cells = read(page_html).cells
    since, until = dt.date.fromisoformat(WEEK[0]), dt.date.fromisoformat(WEEK[1])
    with connect(path=demo_warehouse, read_only=True) as w:
        by_channel = {r[0]: r[1:] for r in w.execute(
            "SELECT channel_name, sum(ihc), sum(ihc_revenue) FROM marts.channel_reporting WHERE model = 'ihc' "
            "AND date BETWEEN ? AND ? GROUP BY 1", [since, until])}
        by_country = {r[0]: r[1:] for r in w.execute(
            "SELECT country_code, sum(spend_eur), sum(acquisitions) FROM marts.campaign_kpis_daily "
            "WHERE date BETWEEN ? AND ? GROUP BY 1", [since, until])}
    rows = cells["attribution.by_channel"]
    assert {r["channel"] for r in rows} == set(by_channel)
    for r in rows:
        assert float(r["conversions"]) == pytest.approx(by_channel[r["channel"]][0], rel=1e-12, abs=1e-12)
        assert float(r["revenue"]) == pytest.approx(by_channel[r["channel"]][1], rel=1e-12, abs=1e-12)
    for r in cells["campaigns.by_country"]:
        spend, acq = by_country[r["country"]]
        assert float(r["spend_eur"]) == pytest.approx(spend, rel=1e-12)
        assert (float(r["cac"]) == pytest.approx(spend / acq, rel=1e-12)) if acq else r["cac"] == ""


def test_the_page_stands_alone(page_html):
    page = read(page_html)
    assert page.urls == [] and page.script_srcs == [] and page.styles_links == 0
    assert page_html.count("Plotly.newPlot") == len(page.charts) >= 5
    assert page_html.count("plotly.js v") == 1  # the library inlined once, not per chart
    assert page.sections == ["attribution", "campaigns", "loyalty", "health"]
    assert "2023-09-01 to 2023-09-07" in page_html and "compared with 2023-08-25 to 2023-08-31" in page_html


def test_models_are_compared_and_incomplete_previous_periods_say_so(page_html):
    assert "attribution.models" in read(page_html).charts  # ihc and linear were attributed
    # the week before the attributed range holds only the credits of its sessions that converted later
    assert "is not wholly inside the ranges attributed with ihc" in page_html


def test_a_failing_check_blocks_the_report_and_keeps_the_last_one(capsys, demo_warehouse, tmp_path):
    wh = tmp_path / "wh.duckdb"
    shutil.copy(demo_warehouse, wh)
    out = tmp_path / "report.html"
    assert report(capsys, wh, out, "--since", WEEK[0], "--until", WEEK[1]).code == 0
    good = out.read_bytes()
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # readable as any file the user writes
    (tmp_path / "martops.yml").write_text("checks:\n  staging.sessions:\n    - row_count: {min: 100000000}\n")
    res = run_cli(capsys, "report", "weekly", "--warehouse", wh, "--out", out, "--since", WEEK[0], "--until", WEEK[1],
                  "--config", tmp_path / "martops.yml")
    msg = " ".join(res.err.split())
    assert res.code == 1 and "report not published: 1 error check(s) failed (staging.sessions: row_count" in msg
    assert "Traceback" not in res.err and out.read_bytes() == good
    res = run_cli(capsys, "report", "weekly", "--warehouse", wh, "--out", out, "--since", WEEK[0], "--until", WEEK[1],
                  "--config", tmp_path / "martops.yml", "--allow-stale")
    assert res.code == 0 and "published with 1 failed check" in res.err
    html = out.read_text("utf-8")
    assert 'id="banner"' in html and "staging.sessions: row_count" in html


def test_a_stale_source_blocks_the_report(capsys, demo_warehouse, tmp_path):
    (tmp_path / "martops.yml").write_text("quality: {freshness_warn_after_hours: 0.000001, "
                                          "freshness_error_after_hours: 0.000002}\n")
    res = run_cli(capsys, "report", "weekly", "--warehouse", demo_warehouse, "--out", tmp_path / "r.html",
                  "--config", tmp_path / "martops.yml", "--week", "2023-W36")
    assert res.code == 1 and "freshness" in res.err and not (tmp_path / "r.html").exists()


def test_default_period_is_the_last_complete_iso_week(capsys, demo_warehouse, tmp_path):
    res = report(capsys, demo_warehouse, tmp_path / "r.html")
    assert res.code == 0, res.err
    with connect(path=demo_warehouse, read_only=True) as w:
        newest = max(w.execute("SELECT max(date) FROM marts.channel_reporting")[0][0],
                     w.execute("SELECT max(date) FROM marts.campaign_kpis_daily")[0][0],
                     w.execute("SELECT max(period_start) FROM loyalty.purchases_daily")[0][0])
    sunday = newest - dt.timedelta(days=newest.isoweekday() % 7)  # the last complete ISO week
    assert f"weekly report for {iso_week_label(sunday)}" in " ".join(res.out.split())


@pytest.mark.parametrize("args, expected", [
    (["--week", "2023-36"], "--week '2023-36': expected an ISO week such as 2023-W36"),
    (["--week", "2021-W53"], "2021 has no ISO week 53"),
    (["--week", "2023-W36", "--since", "2023-09-01"], "give --week or --since/--until, not both"),
    (["--since", "2023-09-01"], "--since and --until go together"),
    (["--since", "2023-09-07", "--until", "2023-09-01"], "--since 2023-09-07 is after --until 2023-09-01"),
    (["--week", "2019-W10"], "no domain has data dated 2019-03-04..2019-03-10"),
    (["--week", "2030-W05"], "the warehouse's dated data: Attribution 2023-"),
])
def test_bad_periods_are_one_line_errors(capsys, demo_warehouse, tmp_path, args, expected):
    res = report(capsys, demo_warehouse, tmp_path / "r.html", *args)
    assert res.code != 0 and expected in " ".join(res.err.split()) and "Traceback" not in res.err
    assert not (tmp_path / "r.html").exists()


def test_a_week_past_the_end_of_the_data_shows_no_change(capsys, demo_warehouse, tmp_path):
    """Campaign data end on 2023-09-07, a Thursday: W36's sums cover 4 of 7 days."""
    res = report(capsys, demo_warehouse, tmp_path / "r.html", "--week", "2023-W36")
    assert res.code == 0, res.err
    html = (tmp_path / "r.html").read_text("utf-8")
    assert "The campaign data run only to 2023-09-07, inside this period: its figures cover 4 of its 7 days" in html
    assert read(html).metrics["campaigns.spend_eur"]["previous"] == ""


def test_a_mistyped_checks_table_stops_the_report(capsys, demo_warehouse, tmp_path):
    (tmp_path / "martops.yml").write_text("checks:\n  marts.campaign_kpis_dialy:\n    - range: {column: spend_eur, min: 0}\n")
    res = run_cli(capsys, "report", "weekly", "--warehouse", demo_warehouse, "--out", tmp_path / "r.html",
                  "--config", tmp_path / "martops.yml", "--week", "2023-W35")
    assert res.code == 1 and "did you mean marts.campaign_kpis_daily" in res.err and not (tmp_path / "r.html").exists()


def test_out_must_be_a_report_file(capsys, demo_warehouse, tmp_path):
    res = report(capsys, demo_warehouse, tmp_path / "r.pdf", "--week", "2023-W36")
    assert res.code == 1 and "name the file .html" in res.err and not (tmp_path / "r.pdf").exists()
    notes = tmp_path / "notes.html"
    notes.write_text("<p>my notes</p>")
    res = report(capsys, demo_warehouse, notes, "--week", "2023-W36")
    assert res.code == 1 and "is not a martops report; pass --force" in res.err and notes.read_text() == "<p>my notes</p>"
    assert "is a folder" in report(capsys, demo_warehouse, tmp_path, "--week", "2023-W36").err
    res = report(capsys, demo_warehouse, tmp_path / "missing" / "r.html", "--week", "2023-W36")
    assert res.code == 1 and "does not exist" in res.err


def test_a_mistyped_warehouse_is_an_error_not_an_empty_report(capsys, tmp_path):
    res = report(capsys, tmp_path / "typo.duckdb", tmp_path / "r.html")
    assert res.code == 1 and "typo.duckdb" in res.err and not (tmp_path / "typo.duckdb").exists()


@given(st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2100, 12, 31)))
def test_an_iso_week_holds_its_days(day):
    week = parse_week(iso_week_label(day))
    assert week.since <= day <= week.until and week.since.isoweekday() == 1 and week.days == 7
    assert week.previous().until == week.since - dt.timedelta(days=1)
    assert week.previous().label == iso_week_label(week.since - dt.timedelta(days=7))


@given(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2050, 1, 1)), st.integers(1, 60))
def test_a_range_is_compared_with_the_same_number_of_days_before(since, days):
    p = Period(since, since + dt.timedelta(days=days - 1))
    prev = p.previous()
    assert prev.days == p.days and prev.until + dt.timedelta(days=1) == p.since


@pytest.mark.parametrize("value, previous, higher_is_better, tone", [
    (120.0, 100.0, False, "bad"),     # CAC up
    (80.0, 100.0, False, "good"),     # CAC down
    (120.0, 100.0, True, "good"),     # revenue up
    (120.0, 100.0, None, "neutral"),  # spend up: neither
    (120.0, None, True, "neutral"),   # no previous figure
    (100.0, 100.0, True, "neutral"),
])
def test_a_change_is_coloured_by_what_is_better(value, previous, higher_is_better, tone):
    from martops.reports.blocks import Metric

    assert Metric("k", "K", value, previous, higher_is_better=higher_is_better).tone == tone


def test_a_check_that_cannot_run_is_named_as_a_project_file_error(capsys, demo_warehouse, tmp_path):
    (tmp_path / "martops.yml").write_text("checks:\n  marts.campaign_kpis_daily:\n"
                                          "    - range: {column: spend_euro, min: 0}\n")
    res = run_cli(capsys, "report", "weekly", "--warehouse", demo_warehouse, "--out", tmp_path / "r.html",
                  "--config", tmp_path / "martops.yml", "--week", "2023-W35", "--allow-stale")
    msg = " ".join(res.err.split())
    assert res.code == 1 and "check(s) could not run" in msg and "spend_euro" in msg and "fix the check" in msg, msg
    assert not (tmp_path / "r.html").exists()
