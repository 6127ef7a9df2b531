"""The synthetic loyalty folder: the same seed gives the same files, enrolled purchases follow the
points rule, the planted bad rows are quarantined, and the planted lift is what the programme test finds."""

from __future__ import annotations

from martops.config import ProjectConfig
from martops.demo.loyalty import LoyaltyDemoSpec, generate, rows
from martops.engine import connect
from martops.loyalty import tables as T
from martops.loyalty.build import build


def test_same_seed_same_rows_and_clean_means_clean():
    assert rows(LoyaltyDemoSpec(customers=50, seed=3)) == rows(LoyaltyDemoSpec(customers=50, seed=3))
    assert rows(LoyaltyDemoSpec(customers=50, seed=3)) != rows(LoyaltyDemoSpec(customers=50, seed=4))
    _, tx = rows(LoyaltyDemoSpec(customers=50, seed=3, dirty=False))
    assert all(r[2].isdigit() for r in tx)


def test_build_finds_the_rule_the_dirt_and_the_lift(tmp_path):
    generate(tmp_path / "d", LoyaltyDemoSpec(customers=1500, seed=11, lift=2.0))
    with connect(path=tmp_path / "w.duckdb") as wh:
        _, log = build(wh, tmp_path / "d", ProjectConfig())
        assert log.get("fill", "transactions breaking the points rule (kept, flagged; their customer's point totals NULL)") == 0
        assert log.get("transactions", "rows quarantined") == 4
        t = {(r["metric"], r["method"]): r for r in wh.to_pyarrow(wh.table(T.PROGRAMME_TEST)).to_pylist()
             if r["segment"] == "all"}
        purchases = t[("purchases_per_customer", "welch")]
        assert purchases["ci_low"] > 0  # twice the purchase rate: the interval excludes no effect
        assert 1.5 < purchases["mean_treated"] / purchases["mean_control"] < 2.6
