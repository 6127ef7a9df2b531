"""The CRM marts on the real extract (../shared/datasets/crm): the headline figures, pinned.

The build runs the dedupe step; no two of the 500 customer ids link, so the 500 golden customers are
the 500 customer_ids (427 of them buyers); the recency date is 2024-08-20, the day after the last
sale (2024-08-19).
"""

from __future__ import annotations

import pytest

from martops.crm.marts import customers as C
from martops.crm.marts import products as P
from martops.crm.marts import sales as R
from martops.crm.marts import support as S
from martops.crm.marts import views
from martops.engine import connect
from tests.conftest import dataset
from tests.crm.folders import run_build


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    folder = dataset("crm")
    with connect(path=tmp_path_factory.mktemp("crm-real") / "w.duckdb") as wh:
        run_build(wh, folder)
        yield wh


def test_customer_value_headlines(real):
    t = real.table(C.TABLE)
    # deduplicated (the golden map exists), and the headline says so
    golden = real.table("crm.customer_golden_map")
    assert real.scalar(golden.count()) == 500 and real.scalar(golden.merged.sum()) == 0
    assert "golden customers (deduplicated through crm.customer_golden_map)" in views.show(real, "customers").headlines[0]
    assert real.scalar(t.count()) == 500 and real.scalar((t.transactions > 0).sum()) == 427
    assert real.scalar(t.spend.sum()) == 269_455.0
    assert C.default_as_of(real).isoformat() == "2024-08-20"
    # 7 buyers' only transaction has no amount: their spend, M, tier and decile are unknown (NULL), so
    # M, tiers and deciles rank the 420 buyers with a known spend (before, the 7 ranked as 0s among 427)
    assert real.scalar(((t.transactions > 0) & t.spend.isnull()).sum()) == 7
    assert C.top_decile_share(real) == pytest.approx(0.241009, abs=1e-6)
    segments = {r["segment"]: r["customers"] for r in real.to_pyarrow(C.summary(real, "segment")).to_pylist()}
    assert segments == {"Champions": 83, "Loyal": 60, "New": 31, "Potential loyalist": 79, "Can't lose": 26,
                        "At risk": 21, "Hibernating": 56, "Lost": 71, "No purchase": 73}
    tiers = {r["tier"]: r["customers"] for r in real.to_pyarrow(C.summary(real, "tier")).to_pylist()}
    assert tiers == {"Top 10%": 42, "Next 20%": 84, "Middle 30%": 126, "Bottom 40%": 168, "No purchase": 73, None: 7}


def test_top_and_bottom_products_and_no_price_sensitivity(real):
    t = real.table(P.TABLE)
    rows = real.to_pyarrow(t.filter(t.performer.notnull()).order_by("revenue_rank")).to_pylist()
    assert [(r["product_name"], r["revenue"]) for r in rows] == [
        ("Bookshelf", 8104.0), ("Sofa Set", 7925.0), ("Jeans", 7486.0), ("Camera", 7334.0), ("Router", 7140.0),
        ("Television", 3516.0), ("Headphones", 3229.0), ("Desk Lamp", 3082.0), ("Hair Dryer", 2889.0),
        ("Lamp", 2582.0)]
    assert real.scalar(t.volume.sum()) == 1000 and real.scalar(t.revenue.sum()) == 269_455.0
    assert not P.prices_vary(real) and P.NO_VARIATION in views.show(real, "products").headlines


def test_resolution_rate_by_channel(real):
    t = real.table(S.TABLE)
    rows = real.to_pyarrow(t.filter(t.dimension.isin(["all", "channel"]))).to_pylist()
    got = {r["value"]: (r["resolved"], r["resolved"] + r["unresolved"], round(r["resolution_rate"], 4)) for r in rows}
    assert got == {"all": (404, 800, 0.505), "chat": (130, 260, 0.5), "email": (117, 244, 0.4795),
                   "phone": (134, 235, 0.5702), "unknown": (23, 61, 0.3770)}


def test_sales_reps_over_and_under_target(real):
    perf = {r["performer"]: r["reps"] for r in real.to_pyarrow(R.performers(real)).to_pylist()}
    assert perf == {"over": 16, "on track": 3, "under": 26, "unknown": 5}
    bands = {r["attainment_band"]: r["reps"] for r in real.to_pyarrow(R.distribution(real)).to_pylist()}
    assert bands == {"<50%": 10, "50-80%": 16, "80-100%": 3, "100-120%": 2, ">=120%": 14, "unknown": 5}
    regions = [(r["region"], round(r["attainment"], 4)) for r in real.to_pyarrow(R.by_region(real)).to_pylist()
               if r["attainment"] is not None]
    assert regions[:3] == [("Alabama", 2.5561), ("Pennsylvania", 2.4147), ("Kentucky", 1.3970)]
    assert regions[-3:] == [("California", 0.3412), ("New Jersey", 0.2746), ("Wisconsin", 0.2674)]
