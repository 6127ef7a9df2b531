"""marts.crm_product_sales: revenue rank, top/bottom performers, volume, price points."""

from __future__ import annotations

from martops.crm.marts import products as P
from martops.crm.marts import views
from tests.crm.marts_tables import put, tx

CATALOGUE = [(f"p{k:02d}", f"Product {k}", "Home" if k % 2 else "Beauty", 10.0 * k, k == 3) for k in range(1, 13)]


def _sales():
    # p01..p11 sell k transactions of 10 each (revenue 10k); p12 never sells; p05 has one blank amount;
    # a ghost product (not in the catalogue) sells once, for 1000
    rows = [("c1", "2024-01-01", 10.0, f"p{k:02d}") for k in range(1, 12) for _ in range(k)]
    rows += [("c1", "2024-01-02", None, "p05"), ("c1", "2024-01-02", 1000.0, "ghost")]
    return tx(rows)


def _rows(wh):
    return {r["product_id"]: r for r in wh.to_pyarrow(wh.table(P.TABLE)).to_pylist()}


def test_rank_performers_volume_and_blank_amounts(wh):
    put(wh, "crm.products", CATALOGUE)
    put(wh, "crm.transactions", _sales())
    P.build(wh)
    rows = _rows(wh)
    by_rank = [r["product_id"] for r in sorted(rows.values(), key=lambda r: r["revenue_rank"])]
    assert by_rank == ["ghost", "p11", "p10", "p09", "p08", "p07", "p06", "p05", "p04", "p03", "p02", "p01", "p12"]
    assert [rows[p]["performer"] for p in by_rank] == ["top"] * 5 + [None] * 3 + ["bottom"] * 5
    p5 = rows["p05"]
    assert (p5["transactions"], p5["volume"], p5["transactions_with_amount"], p5["revenue"], p5["avg_amount"]) == \
        (6, 6.0, 5, 50.0, 10.0)
    assert (rows["p12"]["transactions"], rows["p12"]["revenue"], rows["p12"]["avg_amount"]) == (0, 0.0, None)
    assert rows["ghost"]["orphan"] and rows["ghost"]["product_name"] is None and not rows["p01"]["orphan"]
    assert rows["p03"]["id_conflict"] and not rows["p04"]["id_conflict"]
    assert abs(sum(r["revenue_share"] for r in rows.values()) - 1) < 1e-9
    cats = {r["category"]: r for r in wh.to_pyarrow(P.by_category(wh)).to_pylist()}
    assert cats["Home"]["revenue"] == 10 * (1 + 3 + 5 + 7 + 9 + 11) and cats["(none)"]["revenue"] == 1000.0


def test_one_list_price_per_product_means_no_price_sensitivity(wh):
    put(wh, "crm.products", CATALOGUE)
    put(wh, "crm.transactions", _sales())
    P.build(wh)
    assert {r["price_points"] for r in _rows(wh).values() if r["product_id"] != "ghost"} == {1}
    assert not P.prices_vary(wh)
    assert P.NO_VARIATION in views.show(wh, "products").headlines
    assert wh.to_pyarrow(P.price_volume(wh)).num_rows == 0


def test_prices_per_transaction_give_volume_per_price_point(wh):
    put(wh, "crm.products", CATALOGUE[:2])
    rows = [("t1", "c1", "p01", "2024-01-01", 8.0, 8.0), ("t2", "c1", "p01", "2024-01-02", 8.0, 8.0),
            ("t3", "c1", "p01", "2024-01-03", 12.0, 12.0), ("t4", "c1", "p02", "2024-01-03", 20.0, None)]
    put(wh, "crm.transactions", rows, extra={"price": "float64"})
    P.build(wh)
    got = _rows(wh)
    assert (got["p01"]["price_points"], got["p02"]["price_points"]) == (2, 1)  # p02: its list price
    assert P.prices_vary(wh)
    pv = wh.to_pyarrow(P.price_volume(wh)).to_pylist()
    assert [(r["product_id"], r["price"], r["transactions"], r["revenue"]) for r in pv] == \
        [("p01", 8.0, 2, 16.0), ("p01", 12.0, 1, 12.0)]
    assert "1 products sold at several prices" in views.show(wh, "products").headlines[0]


def test_quantity_makes_volume_units(wh):
    put(wh, "crm.products", CATALOGUE[:1])
    rows = [("t1", "c1", "p01", "2024-01-01", 30.0, 3.0), ("t2", "c1", "p01", "2024-01-02", 10.0, None)]
    put(wh, "crm.transactions", rows, extra={"quantity": "float64"})
    P.build(wh)
    p = _rows(wh)["p01"]
    assert (p["transactions"], p["units"], p["volume"]) == (2, 4.0, 4.0)
