"""The campaign KPI mart converts non-EUR spend at the ingested rate of the day (the business day on
or before it, within the gap limit), says which rate it used, and never guesses a missing one."""

from __future__ import annotations

import datetime as dt

import pytest

from martops import domains
from martops.campaigns import tables as K
from martops.demo.frankfurter import eur_rate
from martops.ops.quarantine import QUARANTINE
from tests.campaigns.exports import channel, lead, rows, run_build, write_exports

from .conftest import project, run_fx

D = dt.date


def test_the_mart_uses_the_ingested_rate_of_the_day_and_names_it(server, wh, tmp_path):
    run_fx(wh, project(server, symbols=["GBP", "USD"]), D(2022, 1, 3), D(2022, 2, 28))
    leads = [lead("2022-01-05", currency="GBP", country="GB", spend="100"),
             lead("2022-01-08", currency="GBP", country="GB", spend="100"),   # a Saturday: Friday's rate
             lead("2021-12-20", currency="GBP", country="GB", spend="100"),   # before the table: configured
             lead("2022-03-10", currency="GBP", country="GB", spend="100"),   # after the table + 4 days: no rate
             lead("2022-01-05", spend="50")]                                  # EUR
    folder = write_exports(tmp_path / "x", [channel()], leads)
    run_build(wh, folder)
    got = {(r["date"], r["currency"]): r for r in rows(wh, K.LEADS)}
    wed, sat = got[(D(2022, 1, 5), "GBP")], got[(D(2022, 1, 8), "GBP")]
    assert wed["fx_rate"] == pytest.approx(1 / eur_rate(D(2022, 1, 5), "GBP"))
    assert (wed["fx_rate_date"], wed["fx_source"]) == (D(2022, 1, 5), "staging.fx_rates as of 2022-01-05")
    assert wed["spend_eur"] == pytest.approx(100 / eur_rate(D(2022, 1, 5), "GBP"))
    assert sat["fx_rate"] == pytest.approx(1 / eur_rate(D(2022, 1, 7), "GBP")) and sat["fx_rate_date"] == D(2022, 1, 7)
    old = got[(D(2021, 12, 20), "GBP")]
    assert (old["fx_rate"], old["fx_rate_date"], old["fx_source"]) == (1.18, None, "configured campaigns.fx_to_eur.GBP = 1.18")
    eur = got[(D(2022, 1, 5), "EUR")]
    assert (eur["fx_rate"], eur["fx_source"]) == (1.0, None)
    assert (D(2022, 3, 10), "GBP") not in got
    bad = rows(wh, QUARANTINE, where=lambda t: t.table_name == "leads_funnel")
    assert len(bad) == 1 and bad[0]["column_name"] == "currency"
    assert ("no staging.fx_rates rate of GBP on or at most 4 days before 2022-03-10; the table's rates of it run "
            "2022-01-03..2022-02-28") in bad[0]["reason"]
    daily = {(r["date"], r["country_code"]): r for r in rows(wh, K.DAILY)}
    assert daily[(D(2022, 1, 5), "GB")]["spend_eur"] == pytest.approx(100 / eur_rate(D(2022, 1, 5), "GBP"))
    assert daily[(D(2022, 1, 5), "ES")]["spend_eur"] == pytest.approx(50)


def test_the_rates_step_runs_before_the_kpi_load_in_the_graph():
    g = domains.graph()
    assert g.upstream["kpis.load"] == ("fx.load",)
    assert g.select(["+kpis.load"]) == ["fx.load", "kpis.load"]
    assert g.select(["fx+"])[:2] == ["fx.load", "kpis.load"]
