"""Campaign exports and CRM files read through the shared parsers: money with symbols, a timestamp
in a DATE column, decimal commas declared or suggested, null markers."""

from __future__ import annotations

import datetime as dt

import pytest

from martops.campaigns import tables as C
from martops.config import ProjectConfig
from martops.crm import tables as R
from martops.ops.quarantine import QUARANTINE
from tests.campaigns import exports as E
from tests.crm import folders as F


def _project(**sources) -> ProjectConfig:
    return ProjectConfig.model_validate({"sources": sources})


def test_a_campaign_export_with_symbols_and_an_offset_timestamp_in_the_date_column(tmp_path, wh):
    leads = [E.lead("2023-09-01T23:30:00-05:00", spend="€1,234.56"), E.lead("2023-09-03", spend="NaN")]
    webs = [E.web("2023-09-01", spend="$1,234.56"), E.web("2023-09-02 00:00:00", spend="1234,56")]
    folder = E.write_exports(tmp_path / "x", [E.channel()], leads, webs)
    _, _, log = E.run_build(wh, folder)
    got = [(r["date"], r["spend"]) for r in E.rows(wh, C.LEADS, ["date"])]
    assert got == [(dt.date(2023, 9, 2), 1234.56), (dt.date(2023, 9, 3), None)]  # 04:30 UTC on Sep 2; NaN is missing
    assert log.get("leads_funnel", "date holding a timestamp -> its date in sources.campaigns.reporting_timezone") == 1
    assert log.get("leads_funnel", "text NaN/null in a measure read as missing") == 1
    assert [(r["date"], r["spend_eur"]) for r in E.rows(wh, C.WEB, ["date"])] == [(dt.date(2023, 9, 1), 1234.56)]
    q = E.rows(wh, QUARANTINE, ["row_number"], where=lambda t: t.table_name == "web_orders")
    assert [(r["row_number"], r["raw_value"]) for r in q] == [(3, "1234,56")]
    assert "declare sources.campaigns.decimal: ','" in q[0]["reason"]
    assert log.get("web_orders", "date holding a timestamp -> its date in sources.campaigns.reporting_timezone") == 0


def test_the_reporting_time_zone_and_a_declared_decimal_comma(tmp_path, wh):
    leads = [E.lead("2023-09-01T23:30:00-05:00", spend="1.234,56 €")]
    folder = E.write_exports(tmp_path / "x", [E.channel()], leads)
    E.run_build(wh, folder, _project(campaigns={"reporting_timezone": "America/Chicago", "decimal": ","}))
    assert [(r["date"], r["spend"]) for r in E.rows(wh, C.LEADS)] == [(dt.date(2023, 9, 1), 1234.56)]


def test_nan_is_quarantined_where_a_source_does_not_declare_it_a_null_marker(tmp_path, wh):
    folder = E.write_exports(tmp_path / "x", [E.channel()], [E.lead("2023-09-01", clicks="NaN"), E.lead("2023-09-02")])
    E.run_build(wh, folder, _project(campaigns={"null_values": []}))
    q = E.rows(wh, QUARANTINE, ["row_number"], where=lambda t: t.table_name == "leads_funnel")
    assert [(r["row_number"], r["column_name"], r["raw_value"]) for r in q] == [(2, "total_clicks", "NaN")]


def test_crm_amounts_read_like_every_other_domain(tmp_path, wh):
    tx = [("t1", "c1", "1", "2024-04-01", "$ 1 234.50", "r1"), ("t2", "c2", "2", "2024-04-02T23:30:00-05:00", "€87.17", "r1"),
          ("t3", "c1", "1", "2024-04-03", "1234,50", "r1"), ("t4", "c1", "1", "2024-04-03", "inf", "r1")]
    F.run_build(wh, F.write_folder(tmp_path / "d", transactions=tx))
    got = {r["transaction_id"]: (r["date"], r["amount"]) for r in F.rows(wh, R.STAGING["transactions"])}
    assert got == {"t1": (dt.date(2024, 4, 1), 1234.5), "t2": (dt.date(2024, 4, 3), 87.17)}
    q = {r["row_number"]: r for r in F.rows(wh, QUARANTINE, ["row_number"]) if r["table_name"] == "crm_transactions"}
    assert set(q) == {4, 5}
    assert q[4]["reason"].endswith("(it looks like a decimal comma; declare sources.crm.decimal: ',' in martops.yml)")
    assert q[5]["raw_value"] == "inf"


@pytest.mark.parametrize("decimal,expected", [(",", 1234.5), (".", None)])
def test_a_crm_decimal_comma_is_read_only_where_declared(tmp_path, wh, decimal, expected):
    tx = [("t1", "c1", "1", "2024-04-01", "1.234,50", "r1"), ("t2", "c1", "1", "2024-04-01", "€ 10", "r1")]
    folder = F.write_folder(tmp_path / "d", transactions=tx, products=None, sales_team=None, interactions=None)
    F.run_build(wh, folder, _project(crm={"decimal": decimal}))
    got = {r["transaction_id"]: r["amount"] for r in F.rows(wh, R.STAGING["transactions"])}
    assert got == ({"t1": expected, "t2": 10.0} if expected is not None else {"t2": 10.0})
