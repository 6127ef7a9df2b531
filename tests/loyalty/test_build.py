"""The loyalty build on a hand folder, on each engine: quarantine reasons, the points rule, the
fills as of a date, the reporting tables, idempotence and a refresh after new transactions."""

from __future__ import annotations

import datetime as dt

import pytest

from martops.config import ProjectConfig
from martops.loyalty import tables as T
from martops.loyalty.build import build
from martops.ops.quarantine import QUARANTINE
from tests.loyalty.folders import by_id, customer, rows, write_folder

D = dt.date
CUSTOMERS = [
    customer(1, "2012-01-01", "enrolled", "LA", "A", "young"),
    customer(2, "2012-01-05", "control", line='Say "hi"'),
    customer(3, "2012-02-01", " Enrolled ", "NYC", age="wise"),  # the arm is read trimmed, case-insensitively
    customer(4, "2012-02-01", "member"),        # line 5: not an arm -> quarantined
    customer(5, "2012-13-01", "control"),       # line 6: not a date -> quarantined
    customer(6, "2012-03-01", "enrolled"),      # no transactions: fills 0
]
TRANSACTIONS = [
    ("2012-01-02", "1", "1074", "100"),      # line 2: 10 points per whole dollar: floor(10.74) * 10
    ("2012-01-03", "1", "120000", "12000"),  # line 3
    ("2012-02-01", "1", "8704", "-4180"),    # line 4: redemption: -5000 + 10 * floor((8704 - 500) / 100)
    ("2012-02-02", "1", "35", "-5050"),      # line 5: redemption on a basket under the $5 discount
    ("2012-01-06", "2", "2500", "0"),        # line 6: control earns nothing
    ("2012-01-07", "2", "0", "0"),           # line 7: a zero-value purchase
    ("2012-01-07", "2", "0", "0"),           # line 8: exact copy of line 7 -> quarantined
    ("2012-03-01", "3", "12.50", "0"),       # line 9: not whole cents -> quarantined
    ("2012-03-02", "3", "-300", "0"),        # line 10: negative -> quarantined
    ("2012-03-03", "99", "100", "10"),       # line 11: not a customer -> quarantined
    ("2012-03-04", "4", "100", "10"),        # line 12: its customer was quarantined -> quarantined
    ("2012-03-05", "3", "1999", "190"),      # line 13
    ("2012-03-06", "3", "250", "30"),        # line 14: breaks the rule (20 expected): flagged, kept
    ("2013-01-05", "3", "1000", "100"),      # line 15: after the as-of date below
    ("03/07/2012", "3", "100", "10"),        # line 16: day or month first? -> quarantined
]


@pytest.fixture()
def folder(tmp_path):
    return write_folder(tmp_path / "delivery", CUSTOMERS, TRANSACTIONS)


def _quarantine(wh) -> dict[tuple[str, int], str]:
    q = wh.table(QUARANTINE)
    return {(r["table_name"], r["row_number"]): r["reason"]
            for r in wh.to_pyarrow(q.filter(q.source == "loyalty")).to_pylist()}


def test_fills_as_of_a_date_follow_the_points_rule(wh, folder):
    _, log = build(wh, folder, ProjectConfig(), as_of=D(2012, 12, 31))
    c = by_id(wh, T.CUSTOMERS)
    assert sorted(c) == [1, 2, 3, 6]
    one = c[1]
    assert (one["number_of_purchases"], one["value_of_purchases"], one["net_value_of_purchases"]) == \
        (4, 1074 + 120000 + 8704 + 35, 1074 + 120000 + 8204 + (35 - 500))
    assert (one["total_standard_points"], one["total_points_redeemed"], one["points_balance"]) == \
        (100 + 12000 + 820 - 50, 10000, 100 + 12000 - 4180 - 5050)
    assert (one["redemptions"], one["first_purchase_date"], one["last_purchase_date"]) == (2, D(2012, 1, 2), D(2012, 2, 2))
    two = c[2]
    assert (two["number_of_purchases"], two["value_of_purchases"], two["zero_value_purchases"],
            two["total_standard_points"], two["total_points_redeemed"]) == (2, 2500, 1, 0, 0)
    assert two["favorite_movie_line"] == 'Say "hi"' and two["location"] is None
    three = c[3]  # line 14 breaks the rule: its point totals are not guessed
    assert three["loyalty"] == "enrolled"
    assert (three["number_of_purchases"], three["value_of_purchases"], three["points_balance"]) == (2, 2249, None)
    assert (three["total_standard_points"], three["total_points_redeemed"], three["points_rule_breaks"]) == (None, None, 1)
    six = c[6]
    assert (six["number_of_purchases"], six["value_of_purchases"], six["total_standard_points"],
            six["first_purchase_date"]) == (0, 0, 0, None)
    assert {r["as_of"] for r in c.values()} == {D(2012, 12, 31)}
    assert log.get("fill", "transactions dated after the as-of date (not counted in the fills)") == 1
    assert log.get("fill", "redemptions on a basket smaller than the discount (kept, flagged: net value negative)") == 1
    tx = {r["_row"]: r for r in rows(wh, T.TRANSACTIONS, ["_row"])}
    assert (tx[4]["kind"], tx[4]["points_earned"], tx[4]["points_redeemed"], tx[4]["discount_cents"],
            tx[4]["net_value_cents"]) == ("redemption", 820, 5000, 500, 8204)
    assert tx[5]["discount_exceeds_value"] and not tx[4]["discount_exceeds_value"]
    assert (tx[14]["points_rule_ok"], tx[14]["points_earned"], tx[14]["net_value_cents"]) == (False, None, None)


def test_bad_rows_are_quarantined_with_file_line_column_and_why(wh, folder):
    _, log = build(wh, folder, ProjectConfig(), as_of=D(2012, 12, 31))
    q = _quarantine(wh)
    assert sorted(q) == [("loyalty_customers", 5), ("loyalty_customers", 6)] + \
        [("loyalty_transactions", n) for n in (8, 9, 10, 11, 12, 16)]
    assert q[("loyalty_customers", 5)].startswith("customers.csv line 5, column loyalty: loyalty 'member' is not 'enrolled' or 'control'")
    assert "signup_date '2012-13-01' is not" in q[("loyalty_customers", 6)]
    assert q[("loyalty_transactions", 8)] == "transactions.csv line 8, column date: exact duplicate of row 7"
    assert "value '12.50' is not a whole number of cents" in q[("loyalty_transactions", 9)]
    assert "value '-300' is negative: a refund or correction" in q[("loyalty_transactions", 10)]
    assert "user_id '99' is not the id of a customer loaded from customers.csv" in q[("loyalty_transactions", 11)]
    assert "user_id '4' is not the id of a customer" in q[("loyalty_transactions", 12)]
    assert "column date: date '03/07/2012' is not" in q[("loyalty_transactions", 16)]
    assert log.get("transactions", "rows read = loaded + quarantined") == 15
    assert log.get("customers", "rows read = loaded + quarantined") == 6


def test_reporting_tables_per_arm_and_period(wh, folder):
    build(wh, folder, ProjectConfig(), as_of=D(2012, 12, 31))
    monthly = {(r["period_start"], r["loyalty"]): r for r in rows(wh, T.MONTHLY, ["period_start", "loyalty"])}
    jan = monthly[(D(2012, 1, 1), "enrolled")]
    assert (jan["purchases"], jan["purchasers"], jan["gross_value_cents"], jan["points_earned"]) == (2, 1, 121074, 12100)
    feb = monthly[(D(2012, 2, 1), "enrolled")]
    assert (feb["redemptions"], feb["discount_cents"], feb["net_value_cents"], feb["points_redeemed"]) == \
        (2, 1000, 8204 - 465, 10000)
    mar = monthly[(D(2012, 3, 1), "enrolled")]  # line 14's points are unknown: sums skip it, the break is counted
    assert (mar["purchases"], mar["gross_value_cents"], mar["points_earned"], mar["points_rule_breaks"]) == (2, 2249, 190, 1)
    assert (D(2013, 1, 1), "enrolled") not in monthly  # after the as-of date
    weekly = {(r["period_start"], r["loyalty"]) for r in rows(wh, T.WEEKLY, ["period_start"])}
    assert (D(2012, 1, 2), "control") in weekly  # 2012-01-06 falls in the ISO week starting Monday 2 January
    cm = {(r["customer_id"], r["month"]): r for r in rows(wh, T.CUSTOMER_MONTH, ["customer_id", "month"])}
    assert cm[(1, D(2012, 2, 1))]["months_since_signup"] == 1 and cm[(1, D(2012, 1, 1))]["months_since_signup"] == 0
    liab = {r["month"]: r for r in rows(wh, T.LIABILITY, ["month"])}
    assert liab[D(2012, 1, 1)]["points_outstanding"] == 12100
    assert liab[D(2012, 2, 1)]["points_outstanding"] == 12100 - 4180 - 5050
    assert liab[D(2012, 3, 1)]["points_outstanding"] == 12100 - 4180 - 5050 + 190 + 30
    assert liab[D(2012, 3, 1)]["liability_cents"] == pytest.approx((12100 - 4180 - 5050 + 220) * 0.1)


def test_rebuild_is_idempotent_and_new_transactions_refresh_the_fills(wh, folder):
    build(wh, folder, ProjectConfig(), as_of=D(2012, 12, 31))
    tables = [T.CUSTOMERS, T.TRANSACTIONS, *T.PERIODS.values(), T.CUSTOMER_MONTH, T.LIABILITY]

    def snapshot():
        return {t: [{k: v for k, v in r.items() if k != "_run_id"} for r in rows(wh, t, list(wh.table(t).columns))]
                for t in tables}

    first, q1 = snapshot(), _quarantine(wh)
    build(wh, folder, ProjectConfig(), as_of=D(2012, 12, 31))
    assert snapshot() == first and _quarantine(wh) == q1
    # the next delivery holds one more transaction of customer 6; the default as-of is its day
    write_folder(folder, CUSTOMERS, TRANSACTIONS + [("2013-02-01", "6", "4321", "430")])
    build(wh, folder, ProjectConfig())
    c = by_id(wh, T.CUSTOMERS)
    assert (c[6]["number_of_purchases"], c[6]["value_of_purchases"], c[6]["total_standard_points"]) == (1, 4321, 430)
    assert c[3]["number_of_purchases"] == 3 and c[6]["as_of"] == D(2013, 2, 1)


def test_what_a_new_user_tried(wh, tmp_path):
    """Ids written two ways, a negative id, a transaction written twice, a redemption beyond the
    balance, a date after today: each quarantined or flagged, never guessed."""
    folder = write_folder(tmp_path / "d", [
        customer(7, "2012-01-01", "enrolled"), customer("007", "2012-01-01", "enrolled"),  # lines 2, 3: one id
        customer(8, "2012-01-01", "control"), customer(-10, "2012-01-01", "control"),      # line 5: negative
        customer(9, "2012-01-01", "enrolled"),
    ], [
        ("2012-01-02", "8", "100", "0"), ("2012-1-2", "08", "100", "0"),   # line 3: line 2 written differently
        ("2012-01-03", "9", "1000", "-4950"),                              # line 4: a redemption with 0 points
        ("2999-01-01", "8", "100", "0"),                                   # line 5: in the future
    ])
    build(wh, folder, ProjectConfig(), as_of=D(2012, 12, 31))
    q = _quarantine(wh)
    assert "id '007' is customer 7 as another line writes it (2 rows); conflicting rows, none loaded" in \
        q[("loyalty_customers", 3)] and ("loyalty_customers", 2) in q
    assert "is negative" in q[("loyalty_customers", 5)]
    assert "the same transaction as line 2 (written differently)" in q[("loyalty_transactions", 3)]
    assert "is in the future" in q[("loyalty_transactions", 5)]
    tx = {r["_row"]: r for r in rows(wh, T.TRANSACTIONS, ["_row"])}
    assert tx[4]["redeemed_beyond_balance"] and tx[4]["points_rule_ok"]


def test_an_as_of_date_in_the_future_is_refused(wh, folder):
    from martops.errors import ConfigError, StepError

    with pytest.raises((ConfigError, StepError), match="is in the future"):
        build(wh, folder, ProjectConfig(), as_of=D(2999, 1, 1))
