"""The dashboard's page through Streamlit's AppTest: every section renders the weekly report's own
figures, each filter changes them to what SQL says, a domain with no data says what loads it, and
nothing raises."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from martops import domains
from martops.cli.common import open_warehouse
from martops.engine import connect
from martops.reports.blocks import fmt
from martops.reports.period import Period
from tests.reports.conftest import WEEK

SINCE, UNTIL = (dt.date.fromisoformat(d) for d in WEEK)
TITLES = ["Attribution (ihc)", "Campaign KPIs", "CRM", "Loyalty programme", "Product usage", "Lead scores",
          "Data health"]


def _script(warehouse: str, config: str | None) -> None:
    from martops.dashboard.page import main

    main(warehouse, config)


def page(project, **params: str) -> AppTest:
    at = AppTest.from_function(_script, kwargs={"warehouse": str(project.warehouse), "config": str(project.config)},
                               default_timeout=180)
    at.query_params.update(params)
    return run(at)


def run(target) -> AppTest:
    """Run the app (or the app of a widget just changed); no exception element on the page."""
    at = target.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def text(element) -> str:
    """What a caption, info or error says (the page escapes markdown in text from the data)."""
    return element.value.replace("\\", "")


def frame(at: AppTest, section: str, position: int):
    """A section's table as the page holds it (exact values, headed by the labels), by position."""
    return block(at, section).dataframe[position].value


def block(at: AppTest, name: str):
    return at.main.get_by_key(f"section-{name}")


def metric(at: AppTest, section: str, label: str) -> str:
    found = [m.value for m in block(at, section).metric if m.label == label]
    assert len(found) == 1, (section, label, [m.label for m in block(at, section).metric])
    return found[0]


def sql(project, query: str, *params):
    with connect(path=project.warehouse, read_only=True) as w:
        return w.execute(query, list(params))[0]


def campaign_spend(project, where: str = "TRUE", *params, since=SINCE, until=UNTIL) -> float:
    return sql(project, f"SELECT sum(spend_eur) FROM marts.campaign_kpis_daily WHERE date BETWEEN ? AND ? AND {where}",
               since, until, *params)[0]


def test_every_section_shows_the_weekly_reports_figures(full):
    """Same sections, same order, and every headline tile reads as the report's for the period
    (the dashboard calls the report's section builders)."""
    at = page(full, since=WEEK[0], until=WEEK[1])
    assert [h.value for h in at.main.header] == TITLES
    assert not at.error
    cfg, wh = open_warehouse(full.config, str(full.warehouse), read_only=True)
    with wh:
        report = {s.key: s for s in (d.report.build(wh, Period(SINCE, UNTIL), cfg) for d in domains.DOMAINS
                                     if d.report) if s}
    names = {"attribution": "attribution", "campaigns": "kpis", "crm": "crm", "loyalty": "loyalty",
             "usage": "usage", "leads": "leads"}
    assert set(report) == set(names)
    for key, name in names.items():
        shown = {m.label: m.value for m in block(at, name).metric}
        assert shown == {m.label: fmt(m.value, m.unit) for m in report[key].metrics}, key
        tables = [d.value for d in block(at, name).dataframe]
        assert [len(t) for t in tables] == [len(t.rows) for t in report[key].tables], key
    assert len(block(at, "attribution").get("plotly_chart")) == 3  # by channel, by day, the two models
    assert len(block(at, "kpis").get("plotly_chart")) == 2
    assert metric(at, "health", "Checks run") != "0"


def test_headline_figures_equal_the_warehouse(full):
    at = page(full, since=WEEK[0], until=WEEK[1])
    cost, conv, rev = sql(full, "SELECT sum(cost), sum(ihc), sum(ihc_revenue) FROM marts.channel_reporting "
                                "WHERE model = 'ihc' AND date BETWEEN ? AND ?", SINCE, UNTIL)
    assert metric(at, "attribution", "Cost") == fmt(cost, "money")
    assert metric(at, "attribution", "ROAS") == fmt(rev / cost, "ratio")
    assert metric(at, "attribution", "Attributed conversions") == fmt(conv, "number")
    assert metric(at, "kpis", "Spend (EUR)") == fmt(campaign_spend(full), "money")
    customers, = sql(full, "SELECT count(*) FROM marts.usage_customers WHERE NOT excluded")
    assert metric(at, "usage", "Customers") == fmt(customers, "count")
    scored, = sql(full, "SELECT count(*) FROM marts.lead_scores "
                        "WHERE as_of = (SELECT max(as_of) FROM marts.lead_scores)")
    assert metric(at, "leads", "Leads scored") == fmt(scored, "count")
    by_country = frame(at, "kpis", 2)
    expected = dict(w for w in _rows(full, "SELECT country_code, sum(spend_eur) FROM marts.campaign_kpis_daily "
                                           "WHERE date BETWEEN ? AND ? GROUP BY 1", SINCE, UNTIL))
    assert dict(zip(by_country["Country"], by_country["Spend (EUR)"])) == pytest.approx(expected, rel=1e-12)


def _rows(project, query: str, *params) -> list[tuple]:
    with connect(path=project.warehouse, read_only=True) as w:
        return w.execute(query, list(params))


def test_a_channel_filter_narrows_its_section_and_the_others_say_they_ignore_it(full):
    at = page(full, since=WEEK[0], until=WEEK[1])
    before = metric(at, "kpis", "Spend (EUR)")
    run(at.multiselect(key="channel.kpis").set_value(["fb", "search"]))
    after = metric(at, "kpis", "Spend (EUR)")
    assert after != before
    assert after == fmt(campaign_spend(full, "channel_3 IN ('fb', 'search')"), "money")
    by_channel = frame(at, "kpis", 1)
    assert sorted(by_channel["Channel"]) == ["fb", "search"]
    caption = " ".join(text(c) for c in block(at, "loyalty").caption)
    assert "not filtered by channel" in caption
    assert "channel fb, search" in " ".join(text(c) for c in block(at, "kpis").caption)
    # the attribution section has its own channel list: the campaign pick leaves it whole
    cost, = sql(full, "SELECT sum(cost) FROM marts.channel_reporting WHERE model = 'ihc' AND date BETWEEN ? AND ?",
                SINCE, UNTIL)
    assert metric(at, "attribution", "Cost") == fmt(cost, "money")
    run(at.multiselect(key="channel.attribution").set_value(["Display", "Referral"]))
    cost, rev = sql(full, "SELECT sum(cost), sum(ihc_revenue) FROM marts.channel_reporting WHERE model = 'ihc' "
                          "AND date BETWEEN ? AND ? AND channel_name IN ('Display', 'Referral')", SINCE, UNTIL)
    assert metric(at, "attribution", "Cost") == fmt(cost, "money")
    assert metric(at, "attribution", "Attributed revenue") == fmt(rev, "money")


def test_country_funnel_and_dates_narrow_the_campaign_figures(full):
    at = page(full, since=WEEK[0], until=WEEK[1])
    run(at.multiselect(key="country").set_value(["GB"]))
    assert metric(at, "kpis", "Spend (EUR)") == fmt(campaign_spend(full, "country_code = 'GB'"), "money")
    run(at.multiselect(key="funnel").set_value(["web"]))
    assert metric(at, "kpis", "Spend (EUR)") == fmt(
        campaign_spend(full, "country_code = 'GB' AND funnel = 'web'"), "money")
    rates = frame(at, "kpis", 0)
    assert set(rates["Funnel"]) == {"web"}
    since, until = dt.date(2023, 8, 14), dt.date(2023, 8, 27)
    run(at.date_input(key="period").set_value((since, until)))
    assert metric(at, "kpis", "Spend (EUR)") == fmt(
        campaign_spend(full, "country_code = 'GB' AND funnel = 'web'", since=since, until=until), "money")
    assert "2023-08-14 to 2023-08-27" in " ".join(text(c) for c in block(at, "kpis").caption)
    assert "not filtered by country, funnel" in " ".join(text(c) for c in block(at, "attribution").caption)


def test_the_model_picks_which_attribution_is_shown(full):
    at = page(full, since=WEEK[0], until=WEEK[1])
    assert at.selectbox(key="model").options == ["ihc", "linear"]
    run(at.selectbox(key="model").set_value("linear"))
    assert block(at, "attribution").header[0].value == "Attribution (linear)"
    conv, = sql(full, "SELECT sum(ihc) FROM marts.channel_reporting WHERE model = 'linear' AND date BETWEEN ? AND ?",
                SINCE, UNTIL)
    assert metric(at, "attribution", "Attributed conversions") == fmt(conv, "number")


def test_a_section_with_no_data_in_the_period_offers_the_week_that_has_some(full):
    at = page(full, since=WEEK[0], until=WEEK[1])
    loyalty = block(at, "loyalty")
    assert "No purchases dated in this period" in text(loyalty.info[0])
    last, = sql(full, "SELECT max(period_start) FROM loyalty.purchases_daily")
    button = loyalty.button[0]
    assert button.label.startswith("Show ")
    run(button.click())
    since, until = at.date_input(key="period").value
    assert until <= last and (last - until).days < 7 and since.isoweekday() == 1 and (until - since).days == 6
    purchases, = sql(full, "SELECT sum(purchases) FROM loyalty.purchases_daily WHERE loyalty = 'enrolled' AND "
                           "period_start BETWEEN ? AND ?", since, until)
    assert metric(at, "loyalty", "Purchases, enrolled") == fmt(purchases, "count")


def test_a_domain_without_data_says_which_command_loads_it(kpis_only):
    at = page(kpis_only)
    assert not at.error
    for name in ("attribution", "crm", "loyalty", "usage", "leads"):
        info = block(at, name).info
        command = domains.domain(name).build_hint.split(": ", 1)[1]
        assert len(info) == 1 and f"`{command}`" in info[0].value and "No " in text(info[0]), name
    spend, last = sql(kpis_only, "SELECT sum(spend_eur), max(date) FROM marts.campaign_kpis_daily")
    since, until = at.date_input(key="period").value  # opens on the last complete ISO week of the data
    assert until <= last and until.isoweekday() == 7
    assert metric(at, "kpis", "Spend (EUR)") == fmt(campaign_spend(kpis_only, since=since, until=until), "money")
    assert at.multiselect(key="country").options  # the sidebar offers the mart's countries
    assert not [w for w in at.sidebar.get("multiselect") if w.key == "channel.attribution"]


def test_a_malformed_link_period_is_said_and_the_default_shown(kpis_only):
    at = page(kpis_only, since="2023-13-01", until="2023-08-07")
    assert "is not a date" in text(at.sidebar.warning[0])
    assert at.date_input(key="period").value[1].isoweekday() == 7


def test_a_range_outside_every_domains_data_is_said_at_the_top(kpis_only, full):
    """As the report refuses such a period: the states (usage, CRM) would otherwise read as that range's."""
    said = [text(w) for w in page(kpis_only, week="1999-W01").warning]
    assert said == ["No domain has data dated 1999-01-04..1999-01-10; the warehouse's dated data: Campaign KPIs "
                    "2023-08-01 to 2023-08-30: pick a date range inside them in the sidebar (the states below are as "
                    "of their last build, not of this range)"]
    assert not [w for w in page(full, week="2023-W36").warning if text(w).startswith("No domain has data")]


def test_a_missing_warehouse_is_one_line_on_the_page(tmp_path):
    at = AppTest.from_function(_script, kwargs={"warehouse": str(tmp_path / "nope.duckdb"), "config": None},
                               default_timeout=60)
    run(at)
    assert len(at.error) == 1 and "nope.duckdb does not exist" in text(at.error[0]) and not at.main.header


def test_a_link_may_name_an_iso_week(full):
    at = page(full, week="2023-W35")
    assert at.date_input(key="period").value == (dt.date(2023, 8, 28), dt.date(2023, 9, 3))
    assert "2023-W35 (2023-08-28 to 2023-09-03)" in text(block(at, "kpis").caption[0])


@pytest.mark.postgres
def test_a_postgresql_warehouse_is_shown_the_same_way(pg_dsn, tmp_path):
    from tests.dashboard.conftest import Project, _ok

    _ok("kpis", "generate", "--out", tmp_path / "exports", "--seed", "4", "--start", "2023-08-01", "--days", "30")
    _ok("kpis", "build", "--source", tmp_path / "exports", "--warehouse", pg_dsn)
    config = tmp_path / "martops.yml"
    config.write_text("{}\n")
    project = Project(pg_dsn, config)
    at = page(project, since="2023-08-14", until="2023-08-20")
    assert not at.error and [h.value for h in at.main.header] == ["Attribution", *TITLES[1:]]
    with connect(path=pg_dsn, read_only=True) as w:
        spend, = w.execute("SELECT sum(spend_eur) FROM marts.campaign_kpis_daily WHERE date BETWEEN ? AND ?",
                           [dt.date(2023, 8, 14), dt.date(2023, 8, 20)])[0]
    assert metric(at, "kpis", "Spend (EUR)") == fmt(spend, "money")
    assert "martops attribution run" in block(at, "attribution").info[0].value
    assert metric(at, "health", "Checks run") != "0"


def test_a_section_that_fails_is_one_line_with_its_log_and_the_page_goes_on(kpis_only, monkeypatch, tmp_path):
    from martops.dashboard import page as dashboard_page

    monkeypatch.chdir(tmp_path)
    real = dashboard_page._build

    def broken(domain, *args):
        if domain == "kpis":
            raise RuntimeError("boom\nsecond line")
        return real(domain, *args)

    monkeypatch.setattr(dashboard_page, "_build", broken)
    at = page(kpis_only)
    errors = [text(e) for e in block(at, "kpis").error]
    assert len(errors) == 1 and errors[0].startswith(
        "Campaign KPIs: unexpected RuntimeError: boom. This is a martops bug; full traceback in "), errors
    log = Path(errors[0].split("full traceback in ", 1)[1].rstrip("."))
    assert log.parent == tmp_path / ".martops" / "logs" and "RuntimeError: boom" in log.read_text()
    assert block(at, "health").metric and block(at, "attribution").info


def test_it_opens_on_the_newest_complete_week_of_the_dated_sections(full):
    """Not on the usage build's as-of day (a state, later than every dated section's data)."""
    at = page(full)
    newest, = sql(full, "SELECT greatest((SELECT max(date) FROM marts.channel_reporting), "
                        "(SELECT max(date) FROM marts.campaign_kpis_daily))")
    since, until = at.date_input(key="period").value
    assert until.isoweekday() == 7 and 0 <= (newest - until).days < 7 and (until - since).days == 6
    assert block(at, "attribution").metric and block(at, "kpis").metric
