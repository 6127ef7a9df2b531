"""The points rule, applied to each transaction: what it earned, what it redeemed, what it cost.

Read off the February Challenge files (README, loyalty section, has the counts): an enrolled
customer's purchase earns `earn_points` per whole `earn_per_cents` of its value (10 points per
whole dollar: 89,338 of 89,338 positive point_differentials); a negative point_differential is a
redemption of `redemption_points` for `redemption_discount_cents` off the basket, the rest of the
basket earning as usual: point_differential = -5000 + 10 * floor((value - 500) / 100) (3,357 of
3,357). So `value` is the basket before the discount, and the customer paid value - 500. Control
customers earn nothing (63,387 of 63,387 at 0).

A transaction that breaks the rule is kept (its value is a fact) with `points_rule_ok` false and its
points and discount NULL: its customer's point totals are NULL rather than a guess.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from martops.config import LoyaltyConfig


def earned(cfg: LoyaltyConfig, cents: ir.IntegerValue) -> ir.IntegerValue:
    """Points a basket of `cents` earns: earn_points x floor(cents / earn_per_cents). The floor of a
    negative remainder (a discount larger than the basket) is taken too, as the real files do."""
    return ((cents.cast("float64") / cfg.earn_per_cents).floor() * cfg.earn_points).cast("int64")


def apply(tx: ir.Table, cfg: LoyaltyConfig) -> ir.Table:
    """`tx` (date, user_id, value, point_differential, loyalty, signup_date) plus kind, points_rule_ok,
    points_earned, points_redeemed, discount_cents, net_value_cents (all integers; NULL where the
    rule is broken), discount_exceeds_value and before_signup."""
    pd, v = tx.point_differential, tx.value
    treated = tx.loyalty == cfg.treated_arm
    redemption = pd < 0
    expected = ibis.cases(
        (~treated, ibis.literal(0, "int64")),
        (redemption, earned(cfg, v - cfg.redemption_discount_cents) - cfg.redemption_points),
        else_=earned(cfg, v),
    )
    ok = (pd == expected).fill_null(False)
    redeemed = ibis.ifelse(redemption, cfg.redemption_points, 0).cast("int64")
    discount = ibis.ifelse(redemption, cfg.redemption_discount_cents, 0).cast("int64")
    null = ibis.null("int64")
    return tx.mutate(
        kind=ibis.ifelse(redemption, "redemption", "purchase"),
        points_rule_ok=ok,
        points_earned=ibis.ifelse(ok, pd + redeemed, null),
        points_redeemed=ibis.ifelse(ok, redeemed, null),
        discount_cents=ibis.ifelse(ok, discount, null),
        net_value_cents=ibis.ifelse(ok, v - discount, null),
        discount_exceeds_value=(redemption & ok & (v < cfg.redemption_discount_cents)).fill_null(False),
        before_signup=(tx.date < tx.signup_date).fill_null(False),
        redeemed_beyond_balance=(redemption & (_balance_before(tx) < cfg.redemption_points)).fill_null(False),
    )


def _balance_before(tx: ir.Table) -> ir.IntegerValue:
    """The customer's points before this transaction (all earlier point_differentials; a day's
    transactions in file order): a redemption needs at least redemption_points of them."""
    w = ibis.window(group_by="user_id", order_by=["date", "_row"], preceding=None, following=0)
    return tx.point_differential.sum().over(w) - tx.point_differential
