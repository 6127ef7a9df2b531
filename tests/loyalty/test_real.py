"""The real February Challenge files (../shared/datasets/loyalty) on each engine: every figure below
was computed independently with pandas from the raw CSVs (the points rule decomposition as the
README states it), so a change in the build that moves one is a change in a published number."""

from __future__ import annotations

import datetime as dt

import ibis
import pytest

from martops.config import ProjectConfig
from martops.loyalty import tables as T
from martops.loyalty.build import build
from tests.conftest import dataset
from tests.loyalty.folders import by_id


@pytest.fixture()
def built(wh):
    _, log = build(wh, dataset("loyalty"), ProjectConfig())
    return wh, log


def test_real_fills_and_rule_counts(built):
    wh, log = built
    c = wh.table(T.CUSTOMERS)
    s = wh.to_pyarrow(c.aggregate(n=c.count(), purchases=c.number_of_purchases.sum(), value=c.value_of_purchases.sum(),
                                  earned=c.total_standard_points.sum(), redeemed=c.total_points_redeemed.sum(),
                                  net=c.net_value_of_purchases.sum(), balance=c.points_balance.sum(),
                                  none=(c.number_of_purchases == 0).cast("int64").sum(),
                                  as_of=c.as_of.max())).to_pylist()[0]
    assert (s["n"], s["purchases"], s["value"], s["net"]) == (20_000, 157_776, 462_793_738, 461_115_238)
    assert (s["earned"], s["redeemed"], s["balance"]) == (28_185_230, 16_785_000, 11_400_230)
    assert s["none"] == 4_660 and str(s["as_of"])[:10] == "2013-12-30"
    six = by_id(wh, T.CUSTOMERS)[6]
    assert (six["number_of_purchases"], six["value_of_purchases"], six["total_standard_points"],
            six["total_points_redeemed"]) == (111, 298_907, 29_120, 25_000)
    assert log.get("fill", "transactions breaking the points rule (kept, flagged; their customer's point totals NULL)") == 0
    assert log.get("fill", "redemptions (5,000 points for 500 cents off, by the points rule)") == 3_357
    assert log.get("fill", "redemptions on a basket smaller than the discount (kept, flagged: net value negative)") == 17
    assert log.get("fill", "zero-value transactions (counted as purchases; zero_value_purchases)") == 2_190
    assert log.get("transactions", "rows read = loaded + quarantined") == 157_776


def test_real_reporting_adds_up(built):
    wh, _ = built
    for table in T.PERIODS.values():
        m = wh.table(table)
        per_arm = {r["loyalty"]: (r["n"], r["v"]) for r in wh.to_pyarrow(
            m.group_by("loyalty").aggregate(n=m.purchases.sum(), v=m.gross_value_cents.sum())).to_pylist()}
        assert per_arm == {"control": (63_387, 174_661_508), "enrolled": (94_389, 288_132_230)}, table
    liab = wh.table(T.LIABILITY)
    last = wh.to_pyarrow(liab.order_by(ibis.desc("month")).limit(1)).to_pylist()[0]
    assert last["month"] == dt.date(2013, 12, 1)
    assert (last["points_outstanding"], last["liability_cents"]) == (11_400_230, pytest.approx(1_140_023.0))
    cm = wh.table(T.CUSTOMER_MONTH)
    assert wh.scalar(cm.purchases.sum()) == 157_776


def test_real_programme_effect(built):
    """The experiment's headline on the real files: enrolled customers bring more net revenue,
    buy more often and come back more; randomisation balanced the arms at signup."""
    wh, _ = built
    t = {(r["metric"], r["method"]): r for r in wh.to_pyarrow(wh.table(T.PROGRAMME_TEST)).to_pylist()
         if r["segment"] == "all"}
    net = t[("net_revenue_per_customer", "welch")]
    assert (net["n_treated"], net["n_control"]) == (9_995, 10_005)
    assert net["mean_treated"] == pytest.approx((288_132_230 - 3_357 * 500) / 9_995, rel=1e-12)
    assert net["mean_control"] == pytest.approx(174_661_508 / 10_005, rel=1e-12)
    assert (net["ci_low"], net["ci_high"]) == (pytest.approx(9308.71188624801, rel=1e-9),
                                               pytest.approx(13095.849638692376, rel=1e-9))
    assert net["p_value"] < 1e-20
    boot = t[("net_revenue_per_customer", "bootstrap")]
    assert boot["ci_low"] == pytest.approx(net["ci_low"], rel=0.02) and boot["ci_high"] == pytest.approx(net["ci_high"], rel=0.02)
    six = t[("retention_month_6", "two_proportion_z")]
    assert (six["difference"], six["ci_low"], six["ci_high"]) == (pytest.approx(0.08224654816965382, rel=1e-9),
                                                                  pytest.approx(0.06699675845724892, rel=1e-9),
                                                                  pytest.approx(0.09749633788205872, rel=1e-9))
    balance = wh.to_pyarrow(wh.table(T.PROGRAMME_BALANCE)).to_pylist()
    assert min(r["p_value"] for r in balance) == pytest.approx(0.21197270620210565, rel=1e-9)
    s = {r["measure"]: r for r in wh.to_pyarrow(wh.table(T.PROGRAMME_SUMMARY)).to_pylist()}
    assert s["revenue_loss_share"]["value"] == pytest.approx(1_678_500 / 288_132_230, rel=1e-12)
    drop = {(r["loyalty"], r["purchase_number"]): r["customers"] for r in wh.to_pyarrow(wh.table(T.DROPOFF)).to_pylist()}
    assert (drop[("enrolled", 1)], drop[("enrolled", 2)], drop[("control", 1)], drop[("control", 2)]) == \
        (8_069, 6_593, 7_271, 5_485)


def test_indexes_on_the_reporting_tables(built):
    wh, _ = built
    if not wh.uses_indexes:
        pytest.skip("this engine keeps no indexes (DuckDB); PostgreSQL does")
    got = {(r[0], r[1]) for r in wh.execute(
        "SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = 'loyalty'")}
    defs = " ".join(d for _, d in got)
    assert "(user_id, date)" in defs and "(loyalty, period_start)" in defs and "(customer_id, month)" in defs
