"""`martops kpis ...` end to end on generated exports, as a user runs it."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from martops.campaigns import tables as T
from martops.engine import connect
from martops.ops.quarantine import QUARANTINE
from tests.campaigns.exports import rows
from tests.cli_runner import run_cli, run_cli_unfixtured


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One generated delivery, built once for the module (the build is the slow part)."""
    base = tmp_path_factory.mktemp("kpis")
    gen = run_cli_unfixtured("kpis", "generate", "--out", base / "exports", "--campaigns", "12", "--days", "60")
    res = run_cli_unfixtured("kpis", "build", "--source", base / "exports", "--warehouse", base / "w.duckdb")
    return base, gen, res


def test_build_prints_steps_cleaning_and_warnings(built):
    base, gen, res = built
    assert gen.code == 0 and "leads_funnel.csv" in gen.out
    assert res.code == 0, res.out + res.err
    for text in ("load", "snapshot", "mart", "What cleaning did", "rows read = loaded + quarantined",
                 "campaign ids missing from channels.csv", "Checks that did not pass", "monotonic_funnel"):
        assert text in res.out, text


def test_planted_dirt_is_quarantined_or_cleaned_and_every_row_accounted_for(built):
    base, _, _ = built
    with connect(path=base / "w.duckdb") as wh:
        q = rows(wh, QUARANTINE)
        raw_values = {r["raw_value"] for r in q}
        assert {"100000000", "f"} <= raw_values
        reasons = " ".join(r["reason"] for r in q)
        assert "date is NULL or empty" in reasons and "campaign_id is NULL or empty" in reasons
        log = rows(wh, T.CLEANING_LOG)
        acct = {r["file"]: r["example"] for r in log if r["rule"] == "rows read = loaded + quarantined"}
        for file in ("channels", "leads_funnel", "web_orders"):
            read, rest = acct[file].replace(",", "").split(" = ")
            loaded, bad = rest.split(" + ")
            assert int(read) == int(loaded) + int(bad)
            assert int(bad) == sum(r["table_name"] == file for r in q)
        lines = sum(1 for _ in open(base / "exports" / "leads_funnel.csv")) - 1
        assert int(acct["leads_funnel"].replace(",", "").split(" = ")[0]) == lines
        assert all(r["country_code"] != "" for r in rows(wh, T.WEB))
        assert wh.count(T.DAILY) > 0


def test_show_by_each_dimension_with_a_total_and_export(built, capsys, tmp_path):
    base, _, _ = built
    w = base / "w.duckdb"
    for by in ("funnel", "channel_3", "country", "campaign", "budget_category"):
        res = run_cli(capsys, "kpis", "show", "--warehouse", w, "--by", by, "--since", "2022-01-01",
                      "--until", "2022-01-31")
        assert res.code == 0 and "TOTAL" in res.out, by
    res = run_cli(capsys, "kpis", "show", "--warehouse", w, "--by", "channel_3", "--export", tmp_path / "s.csv")
    table = pacsv.read_csv(tmp_path / "s.csv")
    assert res.code == 0 and table.column_names[0] == "channel_3" and "TOTAL" in res.out
    assert "TOTAL" not in table.column("channel_3").to_pylist()  # the file holds the rows, not the screen's total
    res = run_cli(capsys, "kpis", "show", "--warehouse", w, "--by", "colour")
    assert res.code == 1 and "--by 'colour' is not a dimension" in res.err


KPI_SQL = """
    SELECT COALESCE(CAST({col} AS VARCHAR), '(none)') AS cut,
           SUM(spend_eur) AS spend_eur, SUM(leads) AS leads, SUM(meetings) AS meetings, SUM(deals) AS deals,
           SUM(sessions) AS sessions, SUM(orders) AS orders,
           CASE WHEN SUM(acquisitions) > 0 THEN SUM(spend_eur) / SUM(acquisitions) END AS cac,
           CASE WHEN SUM(leads) > 0 THEN SUM(lead_spend_eur) / SUM(leads) END AS cpl,
           CASE WHEN SUM(impressions) > 0 THEN SUM(clicks) / SUM(impressions) END AS ctr,
           CASE WHEN SUM(leads) > 0 THEN SUM(meetings) / SUM(leads) END AS lead_to_meeting,
           CASE WHEN SUM(sessions) > 0 THEN SUM(orders) / SUM(sessions) END AS session_to_order
    FROM marts.campaign_kpis_daily WHERE date BETWEEN DATE '2022-01-10' AND DATE '2022-02-20' GROUP BY {group}
"""


@pytest.mark.parametrize("by, column", [("channel_3", "channel_3"), ("country", "country_code")])
def test_show_numbers_equal_sums_of_the_mart(built, capsys, tmp_path, by, column):
    """What `kpis show` prints and exports, per cut and in TOTAL, against sums taken straight from
    marts.campaign_kpis_daily in SQL (not through the code under test): KPIs are ratios of sums."""
    base, _, _ = built
    out = tmp_path / "shown.csv"
    res = run_cli(capsys, "kpis", "show", "--warehouse", base / "w.duckdb", "--by", by, "--since", "2022-01-10",
                  "--until", "2022-02-20", "--export", out)
    assert res.code == 0, res.err
    shown = {r[by]: r for r in pacsv.read_csv(out, convert_options=pacsv.ConvertOptions(
        column_types={by: pa.string()})).to_pylist()}
    with duckdb.connect(str(base / "w.duckdb"), read_only=True) as con:
        def fetch(sql: str) -> list[dict]:
            cur = con.execute(sql)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]
        want = {r["cut"]: r for r in fetch(KPI_SQL.format(col=column, group="1"))}
        [total] = fetch(KPI_SQL.format(col="'TOTAL'", group="ALL"))
    assert len(want) >= 3 and set(shown) == set(want)  # the CSV carries no TOTAL row
    for cut, w in want.items():
        for k, v in w.items():
            if k == "cut":
                continue
            got = shown[cut][k]
            precision = 0.005 if k in ("spend_eur", "cac", "cpl") else 5e-7  # CSV: money in cents, ratios to 6 places
            assert (got is None) == (v is None) and (v is None or got == pytest.approx(float(v), abs=precision)), (cut, k)
    assert f"{float(total['spend_eur']):,.2f}" in res.out  # the printed TOTAL row, as formatted on screen
    assert float(total["spend_eur"]) > 0 and int(total["leads"]) > 0


def test_export_each_grain_to_parquet_and_csv(built, capsys, tmp_path):
    base, _, _ = built
    w = base / "w.duckdb"
    with connect(path=w) as wh:
        n_weekly = wh.count(T.WEEKLY)
    res = run_cli(capsys, "kpis", "export", "--warehouse", w, "--grain", "weekly", "--out", tmp_path / "w.parquet")
    assert res.code == 0 and pq.read_table(tmp_path / "w.parquet").num_rows == n_weekly
    res = run_cli(capsys, "kpis", "export", "--warehouse", w, "--grain", "daily", "--since", "2022-01-10",
                  "--until", "2022-01-16", "--out", tmp_path / "d.csv")
    dates = set(pacsv.read_csv(tmp_path / "d.csv").column("date").to_pylist())
    assert res.code == 0 and dates and min(dates).isoformat() >= "2022-01-10" and max(dates).isoformat() <= "2022-01-16"
    res = run_cli(capsys, "kpis", "export", "--warehouse", w, "--out", tmp_path / "x.xlsx")
    assert res.code == 1 and "export to a .csv or a .parquet file" in res.err


def test_cleaning_status_and_check_see_the_campaign_tables(built, capsys):
    base, _, _ = built
    w = base / "w.duckdb"
    res = run_cli(capsys, "kpis", "cleaning", "--warehouse", w)
    assert res.code == 0 and "exact duplicate rows collapsed" in res.out
    res = run_cli(capsys, "status", "--warehouse", w)
    assert res.code == 0 and T.LEADS in res.out and T.WEB in res.out and "fresh" in res.out
    res = run_cli(capsys, "check", "--warehouse", w, "--select", "marts.campaign*")
    assert res.code == 0 and "warn" in res.out


def test_show_before_any_build_says_what_to_run(capsys, tmp_path):
    res = run_cli(capsys, "kpis", "show", "--warehouse", tmp_path / "empty.duckdb")
    assert res.code == 1 and "martops kpis build --source" in res.err


def test_an_empty_range_is_an_error_naming_the_dates_and_show_titles_the_real_span(built, capsys, tmp_path):
    base, _, _ = built
    w = base / "w.duckdb"
    with connect(path=w) as wh:
        d = wh.table(T.DAILY)
        first, last = wh.to_pyarrow(d.aggregate(a=d.date.min(), b=d.date.max())).to_pylist()[0].values()
    assert (first.isoformat(), last.isoformat()) == ("2022-01-01", "2022-03-01")  # --days 60 from 2022-01-01
    lines = lambda res: [x for x in res.err.splitlines() if x.strip()]  # noqa: E731
    out = tmp_path / "e.csv"
    for args in (["show"], ["export", "--out", out]):
        res = run_cli(capsys, "kpis", *args, "--warehouse", w, "--since", "2023-01-01", "--until", "2023-01-31")
        assert res.code == 1 and lines(res) == [f"error: no rows of {T.DAILY} dated 2023-01-01..2023-01-31; its rows "
                                                "are dated 2022-01-01..2022-03-01"], res.err
        res = run_cli(capsys, "kpis", *args, "--warehouse", w, "--since", "2022-02-01", "--until", "2022-01-01")
        assert res.code == 1 and lines(res) == ["error: --since 2022-02-01 is after --until 2022-01-01"]
    assert not out.exists()
    res = run_cli(capsys, "kpis", "export", "--warehouse", w, "--grain", "monthly", "--since", "2022-04-01",
                  "--out", out)
    assert res.code == 1 and lines(res) == [f"error: no rows of {T.MONTHLY} dated from 2022-04-01; its rows are "
                                            "dated 2022-01-01..2022-03-01"]
    res = run_cli(capsys, "kpis", "show", "--warehouse", w)
    assert res.code == 0 and "Campaign KPIs by funnel, 2022-01-01 .. 2022-03-01" in res.out
    res = run_cli(capsys, "kpis", "show", "--warehouse", w, "--since", "2022-02-15")
    assert res.code == 0 and "Campaign KPIs by funnel, 2022-02-15 .. 2022-03-01" in res.out
