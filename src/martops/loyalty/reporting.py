"""`loyalty.reporting`: the reporting tables the seed asks for ("indexed reporting tables"), rebuilt
from `loyalty.transactions` up to the fills' as-of date, so every figure agrees with the customer table.

Money is integer cents: gross = the transactions' value (before redemption discounts), net = what
customers paid (gross - discounts). Weeks are ISO weeks (starting Monday), months calendar months.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from martops.config import LoyaltyConfig

UNITS = {"daily": None, "weekly": "W", "monthly": "M"}


def _sums(t: ir.Table) -> dict[str, ir.Value]:
    return dict(
        purchases=t.count(),
        purchasers=t.user_id.nunique(),
        gross_value_cents=t.value.sum(),
        discount_cents=t.discount_cents.sum(),
        net_value_cents=t.net_value_cents.sum(),
        redemptions=(t.kind == "redemption").cast("int64").sum(),
        points_earned=t.points_earned.sum(),
        points_redeemed=t.points_redeemed.sum(),
        points_rule_breaks=(~t.points_rule_ok).cast("int64").sum(),
    )


def upto(tx: ir.Table, as_of: dt.date) -> ir.Table:
    return tx.filter(tx.date <= as_of)


def purchases(tx: ir.Table, period: str) -> ir.Table:
    """Per period start and arm: purchases, distinct purchasers, gross/net value and discounts
    (cents), redemptions and points. Grain (period_start, loyalty)."""
    unit = UNITS[period]
    start = tx.date if unit is None else tx.date.truncate(unit)
    t = tx.mutate(period_start=start.cast("date"))
    return t.group_by(["period_start", "loyalty"]).aggregate(**_sums(t)).order_by(["period_start", "loyalty"])


def _month_number(d: ir.DateValue) -> ir.IntegerValue:
    return d.year().cast("int64") * 12 + d.month().cast("int64")


def customer_month(tx: ir.Table) -> ir.Table:
    """One row per customer and month with a transaction; `months_since_signup` is 0 in the signup
    month (the cohort's month k). Grain (customer_id, month)."""
    t = tx.mutate(month=tx.date.truncate("M").cast("date"))
    g = t.group_by(customer_id=t.user_id, month=t.month).aggregate(
        loyalty=t.loyalty.max(), signup_date=t.signup_date.max(), purchases=t.count(),
        gross_value_cents=t.value.sum(), net_value_cents=t.net_value_cents.sum(),
        points_earned=t.points_earned.sum(), points_redeemed=t.points_redeemed.sum(),
        redemptions=(t.kind == "redemption").cast("int64").sum(),
    )
    return g.mutate(months_since_signup=_month_number(g.month) - _month_number(g.signup_date)) \
        .order_by(["customer_id", "month"])


def liability(tx: ir.Table, cfg: LoyaltyConfig) -> ir.Table:
    """Per month of the programme arm: points earned, redeemed, the net change, points outstanding
    at month end (all point_differentials so far) and their value at the redemption rate
    (redemption_discount_cents / redemption_points cents per point). Grain (month)."""
    t = tx.filter(tx.loyalty == cfg.treated_arm)
    t = t.mutate(month=t.date.truncate("M").cast("date"))
    g = t.group_by("month").aggregate(points_earned=t.points_earned.sum(), points_redeemed=t.points_redeemed.sum(),
                                      points_net=t.point_differential.sum(),
                                      redemptions=(t.kind == "redemption").cast("int64").sum())
    w = ibis.window(order_by="month", preceding=None, following=0)
    rate = cfg.redemption_discount_cents / cfg.redemption_points
    g = g.mutate(points_outstanding=g.points_net.sum().over(w).cast("int64"))
    return g.mutate(liability_cents=g.points_outstanding.cast("float64") * rate).order_by("month")
