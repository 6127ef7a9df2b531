"""Funnel rows: what loads, what is quarantined with which reason, what is cleaned and counted."""

from __future__ import annotations

import datetime as dt
import json

import ibis
import pytest

from martops.campaigns import tables as T
from martops.engine import connect
from martops.errors import SourceError
from martops.ops.quarantine import QUARANTINE
from tests.campaigns.exports import ID, LONG_ID, channel, lead, rows, run_build, web, write_exports


def _quarantine(wh, file):
    return rows(wh, QUARANTINE, ["row_number"], where=lambda t: t.table_name == file)


def test_bad_values_are_quarantined_with_file_line_column_and_reason(tmp_path, wh):
    leads = [lead("2022-01-03"), lead("2022-01-04", impressions="100000000"), lead("2022-01-05", leads="f"),
             lead("2022-01-06", spend="-5"), lead("2022-13-01"), lead("2022-01-07", country="XX"),
             lead("2022-01-08", currency="USD"), lead("2022-01-09", cid="1.20211E+17")]
    webs = [web("2022-01-03"), web("", spend="3"), web("2022-01-04", cid=""), web("2022-01-05", signups="2.5")]
    folder = write_exports(tmp_path / "x", [channel()], leads, webs)
    _, results, log = run_build(wh, folder)
    q = {r["row_number"]: r for r in _quarantine(wh, "leads_funnel")}
    assert sorted(q) == [3, 4, 5, 6, 7, 8, 9]                 # CSV line numbers (header is line 1)
    assert q[3]["column_name"] == "total_impressions" and q[3]["raw_value"] == "100000000"
    assert "placeholder" in q[3]["reason"]
    assert q[4]["column_name"] == "total_leads" and "'f'" in q[4]["reason"]
    assert q[5]["column_name"] == "total_spend" and "'-5'" in q[5]["reason"]
    assert q[6]["column_name"] == "date" and "'2022-13-01' is not a date" in q[6]["reason"]
    assert q[6]["partition_date"] is None                       # an unreadable date belongs to every range
    assert q[7]["column_name"] == "country_code" and "a country: an ISO 3166 code or name" in q[7]["reason"]
    assert q[8]["column_name"] == "currency" and "EUR, GBP" in q[8]["reason"]
    assert q[9]["column_name"] == "campaign_id" and "1.2E+17" in q[9]["reason"]
    assert json.loads(q[3]["raw_row"])["total_impressions"] == "100000000"
    w = {r["row_number"]: r["column_name"] for r in _quarantine(wh, "web_orders")}
    assert w == {3: "date", 4: "campaign_id", 5: "nb_of_signups"}
    assert log.get("leads_funnel", "rows read = loaded + quarantined") == 8
    assert [r["date"] for r in rows(wh, T.LEADS)] == [dt.date(2022, 1, 3)]
    assert results[0].details == {"read": 1 + 8 + 4, "loaded": 1 + 1 + 1, "quarantined": 7 + 3}


def test_outliers_far_above_the_column_are_junk_only_when_the_column_is_big_enough(tmp_path, wh):
    day = dt.date(2022, 1, 1)
    normal = [web(str(day + dt.timedelta(days=i % 90)), cid=str(100000000 + i // 90), sessions=str(40 + i % 30))
              for i in range(150)]
    spike = web("2022-04-30", sessions="10000")
    folder = write_exports(tmp_path / "x", [channel()], None, [*normal, spike])
    run_build(wh, folder)
    q = _quarantine(wh, "web_orders")
    assert [r["raw_value"] for r in q] == ["10000"] and "99th percentile" in q[0]["reason"]
    # 29 values are too few for a percentile to mean anything: nothing is called an outlier
    folder = write_exports(tmp_path / "y", [channel()], None, [*normal[:28], spike])
    with connect(path=tmp_path / "small.duckdb") as small:
        run_build(small, folder)
        assert _quarantine(small, "web_orders") == []


def test_blank_ids_are_filled_from_a_name_naming_one_campaign(tmp_path, wh):
    other = "987654321"
    chans = [channel(ID, name="camp_a"), channel(other, name="camp_b"), channel("555555555", name="camp_b")]
    leads = [lead("2022-01-03", cid="", name="camp_a"), lead("2022-01-04", cid="", name="camp_b"),
             lead("2022-01-05", cid="", name=""), lead("2022-01-06", cid=f"{ID}.000000", name="camp_a")]
    folder = write_exports(tmp_path / "x", chans, leads)
    _, _, log = run_build(wh, folder)
    loaded = rows(wh, T.LEADS, ["date"])
    assert [(r["date"].day, r["campaign_id"]) for r in loaded] == [(3, ID), (6, ID)]
    bad = _quarantine(wh, "leads_funnel")
    assert [r["row_number"] for r in bad] == [3, 4]               # camp_b is ambiguous; no name at all
    assert log.get("leads_funnel", "campaign_id filled from campaign_name") == 1
    assert log.get("leads_funnel", "campaign_id '.000000' float suffix dropped") == 1


def test_foreign_currency_uses_the_fx_table_as_of_the_day_else_the_configured_rate(tmp_path, wh):
    leads = [lead("2022-01-03", currency="GBP", country="GB", spend="100"),
             lead("2022-02-03", currency="GBP", country="GB", spend="100"),
             lead("2022-01-03", cid=LONG_ID, currency="gbp", country="uk", spend="10")]
    folder = write_exports(tmp_path / "x", [channel()], leads)
    run_build(wh, folder)
    got = rows(wh, T.LEADS, ["date", "spend"])
    assert [r["fx_rate"] for r in got] == [1.18, 1.18, 1.18]
    assert got[0]["fx_source"] == "configured campaigns.fx_to_eur.GBP = 1.18"
    assert got[0]["country_code"] == "GB" and got[0]["spend_eur"] == pytest.approx(11.8)
    # fx.load's shape: 1 EUR = rate GBP, so EUR per GBP is 1 / rate
    wh.create_or_replace(T.FX_RATES, ibis.memtable({"date": [dt.date(2022, 2, 1)], "base": ["EUR"], "currency": ["GBP"],
                                                    "rate": [1 / 1.2]}))
    run_build(wh, folder)
    got = rows(wh, T.LEADS, ["date", "spend"])
    assert [r["fx_rate"] for r in got] == pytest.approx([1.18, 1.18, 1.2])  # January predates the table's first rate
    assert got[2]["fx_source"] == f"{T.FX_RATES} as of 2022-02-01"
    assert [r["fx_rate_date"] for r in got] == [None, None, dt.date(2022, 2, 1)]


def test_missing_texts_and_blank_measures_are_missing_not_junk(tmp_path, wh):
    leads = [lead("2022-01-03", impressions="", clicks="NaN", spend="null"), lead("2022-01-03", product="")]
    folder = write_exports(tmp_path / "x", [channel()], leads)
    _, _, log = run_build(wh, folder)
    assert _quarantine(wh, "leads_funnel") == []
    assert log.get("leads_funnel", "text NaN/null in a measure read as missing") == 2
    facts = rows(wh, T.DAILY)
    assert len(facts) == 1 and facts[0]["impressions"] == 1000 and facts[0]["source_rows"] == 2


def test_too_many_bad_rows_is_a_format_change_and_loads_nothing(tmp_path, wh):
    good = [web(f"2022-01-{d:02d}") for d in range(1, 29)]
    folder = write_exports(tmp_path / "x", [channel()], None, good)
    run_build(wh, folder)
    before = rows(wh, T.WEB, ["date"])
    bad = [web(f"2022-01-{d:02d}", sessions="lots") for d in range(1, 29)]
    folder = write_exports(tmp_path / "y", [channel()], None, bad * 40)
    with pytest.raises(SourceError, match="web_orders.csv: 1,120 of 1,120 rows"):
        run_build(wh, folder)
    assert rows(wh, T.WEB, ["date"]) == before


def test_folder_faults_name_the_file_and_what_is_missing(tmp_path, wh):
    with pytest.raises(SourceError, match="is not a folder"):
        run_build(wh, tmp_path / "nope")
    folder = write_exports(tmp_path / "a", [channel()], None, None)
    with pytest.raises(SourceError, match="neither leads_funnel.csv nor web_orders.csv"):
        run_build(wh, folder)
    (folder / "channels.csv").unlink()
    write_exports(tmp_path / "b", [channel()], [lead("2022-01-03")])
    (tmp_path / "b" / "channels.csv").unlink()
    with pytest.raises(SourceError, match="channels.csv is missing"):
        run_build(wh, tmp_path / "b")
    c = write_exports(tmp_path / "c", [channel()], [lead("2022-01-03")])
    text = (c / "leads_funnel.csv").read_text().replace("TOTAL_SQLS", "SQLS")
    (c / "leads_funnel.csv").write_text(text)
    with pytest.raises(SourceError, match=r"leads_funnel.csv: column\(s\) \['TOTAL_SQLS'\] missing"):
        run_build(wh, c)
    e = write_exports(tmp_path / "e", [channel()], [lead("2022-01-03")], [])
    with pytest.raises(SourceError, match="web_orders.csv has a header but no rows"):
        run_build(wh, e)


def test_headers_match_in_any_case_and_extra_columns_are_ignored(tmp_path, wh):
    folder = write_exports(tmp_path / "x", [channel()], [lead("2022-01-03")])
    lines = (folder / "leads_funnel.csv").read_text().splitlines()
    lines = [lines[0].lower() + ",EXTRA", *[ln + ",x" for ln in lines[1:]]]
    (folder / "leads_funnel.csv").write_text("\n".join(lines) + "\n")
    run_build(wh, folder)
    assert rows(wh, T.LEADS)[0]["campaign_id"] == ID
