"""`loyalty.fill`: the transactions with the points rule applied, and the customer table with the
four blank-by-design columns filled as of a date.

Units: number_of_purchases counts transactions (zero-value ones included: they are in the
purchase log; `zero_value_purchases` says how many); value_of_purchases is the sum of `value` in
cents, before redemption discounts (what the source's value means, see `points`); net of discounts
in net_value_of_purchases. total_standard_points are the points earned, total_points_redeemed
those spent; points_balance = earned - redeemed = the sum of point_differential. A customer with
a transaction that breaks the points rule gets NULL point totals and balance (points_rule_breaks
says how many).
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from martops.config import LoyaltyConfig
from martops.loyalty import points

FILLS = ("number_of_purchases", "value_of_purchases", "total_standard_points", "total_points_redeemed")


def transactions(staged: ir.Table, customers: ir.Table, cfg: LoyaltyConfig) -> ir.Table:
    """Every staged transaction with its customer's arm and signup date and the points rule applied."""
    c = customers.select(user_id=customers.id, loyalty=customers.loyalty, signup_date=customers.signup_date)
    j = staged.inner_join(c, "user_id")
    t = points.apply(j, cfg)
    return t.select("_row", "date", "user_id", "loyalty", "signup_date", "value", "point_differential", "kind",
                    "points_rule_ok", "points_earned", "points_redeemed", "discount_cents", "net_value_cents",
                    "discount_exceeds_value", "before_signup", "redeemed_beyond_balance")


def customers(staged: ir.Table, tx: ir.Table, as_of: dt.date) -> ir.Table:
    """One row per staged customer: its delivered columns, the fills and their companions, as of
    `as_of` (transactions dated after it are not counted)."""
    t = tx.filter(tx.date <= as_of)
    per = t.group_by(id=t.user_id).aggregate(
        number_of_purchases=t.count(),
        value_of_purchases=t.value.sum(),
        net_value_of_purchases=t.net_value_cents.sum(),
        total_standard_points=t.points_earned.sum(),
        total_points_redeemed=t.points_redeemed.sum(),
        points_balance=t.point_differential.sum(),
        redemptions=(t.kind == "redemption").cast("int64").sum(),
        zero_value_purchases=(t.value == 0).cast("int64").sum(),
        points_rule_breaks=(~t.points_rule_ok).cast("int64").sum(),
        first_purchase_date=t.date.min(),
        last_purchase_date=t.date.max(),
    )
    base = staged.drop(*[c for c in FILLS if c in staged.columns])  # as delivered: blank by design
    j = base.left_join(per, "id")
    zero = ibis.literal(0, "int64")
    broken = j.points_rule_breaks.fill_null(0) > 0
    return j.select(
        "id", "signup_date", "loyalty", "location", "gender", "age", "favorite_movie_line",
        number_of_purchases=j.number_of_purchases.fill_null(zero),
        value_of_purchases=j.value_of_purchases.fill_null(zero),
        total_standard_points=ibis.ifelse(broken, ibis.null("int64"), j.total_standard_points.fill_null(zero)),
        total_points_redeemed=ibis.ifelse(broken, ibis.null("int64"), j.total_points_redeemed.fill_null(zero)),
        net_value_of_purchases=ibis.ifelse(broken, ibis.null("int64"), j.net_value_of_purchases.fill_null(zero)),
        points_balance=ibis.ifelse(broken, ibis.null("int64"), j.points_balance.fill_null(zero)),
        redemptions=j.redemptions.fill_null(zero),
        zero_value_purchases=j.zero_value_purchases.fill_null(zero),
        points_rule_breaks=j.points_rule_breaks.fill_null(zero),
        first_purchase_date=j.first_purchase_date,
        last_purchase_date=j.last_purchase_date,
        as_of=ibis.literal(as_of, type="date"),
    ).order_by("id")
