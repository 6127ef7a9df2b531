"""marts.crm_customer_value: RFM scores and segments, tiers, deciles, golden customers — computed by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from martops.crm.marts import customers as C
from martops.crm.marts import rfm
from tests.crm.marts_tables import put, tx

# five buyers, distinct on every measure, so each score is the buyer's position (1-5):
#            recency (as_of 01-31)  transactions  spend         -> R F M  segment
#   a        1 day                  5             1000          -> 5 5 5  Champions
#   b        2 days                 1             50            -> 4 1 1  New
#   c        11 days                4             300           -> 3 4 3  Loyal (FM 3.5)
#   d        21 days                3             600           -> 2 3 4  At risk (FM 3.5)
#   e        30 days                2 (one blank) 100 (1 known) -> 1 2 2  Lost
#   f        no purchase                                        -> No purchase
PEOPLE = [(c, c.upper(), "FR") for c in "abcdef"]
SALES = ([("a", f"2024-01-{d:02d}", 200.0) for d in (2, 5, 9, 20, 30)] + [("b", "2024-01-29", 50.0)]
         + [("c", f"2024-01-{d:02d}", 75.0) for d in (3, 4, 6, 20)]
         + [("d", f"2024-01-{d:02d}", 200.0) for d in (7, 8, 10)] + [("e", "2024-01-01", 100.0), ("e", "2023-12-01", None)])


@pytest.fixture
def small(wh):
    put(wh, "crm.customers", PEOPLE)
    put(wh, "crm.transactions", tx(SALES))
    C.build(wh)
    return {r["golden_id"]: r for r in wh.to_pyarrow(wh.table(C.TABLE)).to_pylist()}


def test_rfm_scores_segments_tiers_and_deciles(small):
    got = {k: (r["recency_days"], r["r_score"], r["f_score"], r["m_score"], r["rfm_segment"], r["spend_tier"],
               r["spend_decile"]) for k, r in small.items()}
    assert got == {
        "a": (1, 5, 5, 5, "Champions", "Top 10%", 1),
        "b": (2, 4, 1, 1, "New", "Bottom 40%", 9),
        "c": (11, 3, 4, 3, "Loyal", "Middle 30%", 5),
        "d": (21, 2, 3, 4, "At risk", "Next 20%", 3),
        "e": (30, 1, 2, 2, "Lost", "Bottom 40%", 7),
        "f": (None, None, None, None, "No purchase", "No purchase", None),
    }


def test_blank_amounts_count_in_frequency_not_in_spend(small):
    e = small["e"]
    assert (e["transactions"], e["transactions_with_amount"], e["spend"], e["avg_order_value"]) == (2, 1, 100.0, 100.0)
    f = small["f"]
    assert (f["transactions"], f["spend"], f["avg_order_value"], f["last_purchase"]) == (0, 0.0, None, None)
    assert small["a"]["first_purchase"] == dt.date(2024, 1, 2) and small["a"]["last_purchase"] == dt.date(2024, 1, 30)


def test_top_decile_share_and_summaries(wh, small):
    assert C.top_decile_share(wh) == pytest.approx(1000 / 2050)
    seg = {r["segment"]: r for r in wh.to_pyarrow(C.summary(wh, "segment")).to_pylist()}
    assert [s for s in seg] == ["Champions", "Loyal", "New", "At risk", "Lost", "No purchase"]
    assert seg["Lost"]["avg_order_value"] == 100.0 and seg["No purchase"]["avg_order_value"] is None
    country = wh.to_pyarrow(C.summary(wh, "country")).to_pylist()
    assert country[0]["customers"] == 6 and country[0]["buyers"] == 5 and country[0]["spend"] == 2050


def test_as_of_moves_recency_and_leaves_later_sales_out(wh):
    put(wh, "crm.customers", PEOPLE)
    put(wh, "crm.transactions", tx(SALES))
    C.build(wh, as_of=dt.date(2024, 1, 15))
    a = {r["golden_id"]: r for r in wh.to_pyarrow(wh.table(C.TABLE)).to_pylist()}["a"]
    assert (a["transactions"], a["recency_days"], a["last_purchase"]) == (3, 6, dt.date(2024, 1, 9))


def test_tier_boundaries_over_ten_buyers_and_ties_share_a_score(wh):
    ids = [f"c{k:02d}" for k in range(1, 11)]
    put(wh, "crm.customers", [(c, c, "FR") for c in ids])
    # spend 10..100; everyone bought once on the same day: frequency and recency are all ties
    put(wh, "crm.transactions", tx([(c, "2024-03-01", 10.0 * k) for k, c in enumerate(ids, 1)]))
    C.build(wh)
    rows = {r["golden_id"]: r for r in wh.to_pyarrow(wh.table(C.TABLE)).to_pylist()}
    tiers = [rows[c]["spend_tier"] for c in reversed(ids)]
    assert tiers == ["Top 10%"] + ["Next 20%"] * 2 + ["Middle 30%"] * 3 + ["Bottom 40%"] * 4
    assert [rows[c]["spend_decile"] for c in reversed(ids)] == list(range(1, 11))
    assert {(r["r_score"], r["f_score"]) for r in rows.values()} == {(1, 1)}
    assert [rows[c]["m_score"] for c in ids] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert C.top_decile_share(wh) == pytest.approx(100 / 550)


def test_segment_rules_table():
    import ibis

    cases = {(5, 5, 5): "Champions", (3, 3, 3): "Loyal", (4, 1, 2): "New", (4, 2, 2): "Potential loyalist",
             (3, 1, 1): "Potential loyalist", (2, 4, 4): "Can't lose", (1, 3, 3): "At risk", (2, 1, 2): "Hibernating",
             (1, 2, 2): "Lost"}
    for (r, f, m), name in cases.items():
        expr = rfm.segment(ibis.literal(r), ibis.literal(f), ibis.literal(m))
        assert ibis.duckdb.connect().execute(expr) == name, (r, f, m)


GOLDEN_PEOPLE = [("c1", "Ann Lee", "JP"), ("c2", "Ann Lee", "DE"), ("c3", "Bob Stone", "FR")]
GOLDEN_SALES = [("c1", "2024-02-01", 100.0), ("c2", "2024-02-03", 50.0), ("c3", "2024-02-02", 30.0),
                ("ghost", "2024-02-02", 5.0)]


def test_golden_map_merges_two_customer_ids_and_takes_the_golden_country(wh):
    put(wh, "crm.customers", GOLDEN_PEOPLE)
    put(wh, "crm.transactions", tx(GOLDEN_SALES))
    put(wh, "crm.customer_golden_map", [("c1", "c1", 2, 0.99, False), ("c2", "c1", 2, 0.99, True),
                                        ("c3", "c3", 1, None, False)])
    put(wh, "crm.customer_golden", [("c1", "Ann Lee", None, None, None, None, "GB", 2),
                                    ("c3", "Bob Stone", None, None, None, None, "FR", 1)])
    C.build(wh)
    rows = {r["golden_id"]: r for r in wh.to_pyarrow(wh.table(C.TABLE)).to_pylist()}
    assert set(rows) == {"c1", "c3", "ghost"}
    assert (rows["c1"]["transactions"], rows["c1"]["spend"], rows["c1"]["country"]) == (2, 150.0, "GB")
    assert rows["c1"]["last_purchase"] == dt.date(2024, 2, 3)
    assert (rows["ghost"]["known"], rows["ghost"]["country"], rows["ghost"]["name"]) == (False, "ZZ", None)


def test_without_golden_tables_each_customer_id_is_a_customer(wh):
    put(wh, "crm.customers", GOLDEN_PEOPLE)
    put(wh, "crm.transactions", tx(GOLDEN_SALES))
    C.build(wh)
    rows = {r["golden_id"]: r for r in wh.to_pyarrow(wh.table(C.TABLE)).to_pylist()}
    assert {k: (r["spend"], r["country"], r["known"]) for k, r in rows.items()} == {
        "c1": (100.0, "JP", True), "c2": (50.0, "DE", True), "c3": (30.0, "FR", True), "ghost": (5.0, "ZZ", False)}


def test_a_buyer_with_no_known_amount_has_unknown_spend_not_zero(wh):
    # g's only purchase has no amount: spend, M, tier and decile are unknown; R and F are not.
    put(wh, "crm.customers", PEOPLE + [("g", "G", "FR")])
    put(wh, "crm.transactions", tx(SALES + [("g", "2023-12-15", None)]))
    C.build(wh)
    rows = {r["golden_id"]: r for r in wh.to_pyarrow(wh.table(C.TABLE)).to_pylist()}
    g = rows["g"]
    assert (g["transactions"], g["transactions_with_amount"], g["spend"], g["avg_order_value"]) == (1, 0, None, None)
    # six buyers: g is the stalest (rank 0 of 6: R 1) and ties b on one purchase (rank 0: F 1); FM is F alone
    assert (g["recency_days"], g["r_score"], g["f_score"], g["m_score"], g["spend_tier"], g["spend_decile"],
            g["rfm_segment"]) == (47, 1, 1, None, None, None, "Lost")
    # M, tiers and deciles rank the five known spends as before: g is not a 0 at the bottom
    assert {k: (r["m_score"], r["spend_tier"], r["spend_decile"]) for k, r in rows.items() if k in "abcde"} == {
        "a": (5, "Top 10%", 1), "b": (1, "Bottom 40%", 9), "c": (3, "Middle 30%", 5), "d": (4, "Next 20%", 3),
        "e": (2, "Bottom 40%", 7)}
    assert C.top_decile_share(wh) == pytest.approx(1000 / 2050)
