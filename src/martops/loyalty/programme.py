"""The loyalty programme as an experiment: enrolled versus control, randomised at signup.

Every comparison is intention-to-treat over all of an arm's customers (those who never bought
included: leaving them out would compare the programme's effect on who buys, not on revenue),
except the average basket, which exists only for purchasers (said in its note). Per segment too:
each level of location, gender and age, 'unknown' included. Statistics come from
`martops.loyalty.experiment` (Welch, two-proportion z, a percentile bootstrap for revenue).

Retention month k: of the customers whose k-th month after the signup month ended on or before the
as-of date (so it was fully observed), the share with a purchase in that month.

Cost: the redemption discounts are the programme's cost already paid; they are netted out of the
enrolled arm's revenue (net = what customers paid), so the difference in net revenue per customer
is the programme's effect after that cost. Points still outstanding are a further cost if redeemed,
valued at the redemption rate; the net effect subtracts them too. Operating costs of the programme
are not in the data and not in these figures.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from martops.config import LoyaltyConfig
from martops.loyalty import experiment as X
from martops.loyalty.behaviour import SEGMENTS, UNKNOWN

RETENTION_MONTHS = (1, 3, 6, 12)
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20120101
OVERALL = ("all", "all")

TEST_SCHEMA = pa.schema([
    ("segment", pa.string()), ("level", pa.string()), ("metric", pa.string()), ("method", pa.string()),
    ("unit", pa.string()), ("n_treated", pa.int64()), ("n_control", pa.int64()), ("mean_treated", pa.float64()),
    ("mean_control", pa.float64()), ("difference", pa.float64()), ("ci_low", pa.float64()),
    ("ci_high", pa.float64()), ("p_value", pa.float64()), ("relative_lift", pa.float64()),
    ("confidence", pa.float64()), ("note", pa.string()),
])
BALANCE_SCHEMA = pa.schema([
    ("covariate", pa.string()), ("level", pa.string()), ("n_treated", pa.int64()), ("n_control", pa.int64()),
    ("share_treated", pa.float64()), ("share_control", pa.float64()), ("method", pa.string()),
    ("statistic", pa.float64()), ("p_value", pa.float64()), ("note", pa.string()),
])
SUMMARY_SCHEMA = pa.schema([("measure", pa.string()), ("value", pa.float64()), ("ci_low", pa.float64()),
                            ("ci_high", pa.float64()), ("unit", pa.string()), ("note", pa.string()),
                            ("as_of", pa.date32())])


def _month_start(d: ir.DateValue, months: int) -> ir.DateValue:
    return (d.truncate("M") + ibis.interval(months=months)).cast("date")


def per_customer(customers: ir.Table, customer_month: ir.Table, as_of: dt.date) -> ir.Table:
    """One row per customer: arm, segments, outcomes and, for each k in RETENTION_MONTHS,
    `eligible_k` (month k after signup ended by the as-of date) and `active_k`."""
    cm = customer_month
    flags = cm.group_by(id=cm.customer_id).aggregate(
        **{f"active_{k}": (cm.months_since_signup == k).cast("int64").max() for k in RETENTION_MONTHS})
    j = customers.left_join(flags, "id")
    end_of = {k: (_month_start(j.signup_date, k + 1) - ibis.interval(days=1)).cast("date") for k in RETENTION_MONTHS}
    return j.select(
        "id", "loyalty", "signup_date", *SEGMENTS, "number_of_purchases", "value_of_purchases",
        "net_value_of_purchases",
        **{f"eligible_{k}": (end_of[k] <= as_of) for k in RETENTION_MONTHS},
        **{f"active_{k}": j[f"active_{k}"].fill_null(0) for k in RETENTION_MONTHS},
    ).order_by("id")


@dataclasses.dataclass
class Arms:
    """The per-customer table split by arm, as numpy columns."""

    treated: dict[str, np.ndarray]
    control: dict[str, np.ndarray]

    def subset(self, column: str, level: str) -> "Arms":
        def pick(arm: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            keep = arm[column] == level
            return {k: v[keep] for k, v in arm.items()}
        return Arms(pick(self.treated), pick(self.control))


def split(rows: pa.Table, cfg: LoyaltyConfig) -> Arms:
    cols = {c: rows.column(c).to_numpy(zero_copy_only=False) for c in rows.column_names}
    for s in SEGMENTS:
        cols[s] = np.array([UNKNOWN if v is None or str(v).strip() == "" else str(v).strip() for v in cols[s]],
                           dtype=object)
    arm = cols["loyalty"]
    return Arms({k: v[arm == cfg.treated_arm] for k, v in cols.items()},
                {k: v[arm == cfg.control_arm] for k, v in cols.items()})


def _row(segment: tuple[str, str], c: X.Comparison, unit: str, extra_note: str = "") -> dict[str, Any]:
    note = "; ".join(n for n in (c.note, extra_note) if n)
    return {"segment": segment[0], "level": segment[1], "metric": c.metric, "method": c.method, "unit": unit,
            "n_treated": c.n_treated, "n_control": c.n_control, "mean_treated": c.mean_treated,
            "mean_control": c.mean_control, "difference": c.difference, "ci_low": c.ci_low, "ci_high": c.ci_high,
            "p_value": c.p_value, "relative_lift": c.relative_lift, "confidence": c.confidence, "note": note}


def _known(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Outcomes that are known (net revenue is NULL for a customer with a points-rule break)."""
    v = np.array([np.nan if x is None else x for x in values], dtype="float64")
    keep = ~np.isnan(v)
    return v[keep], int((~keep).sum())


def compare(arms: Arms, segment: tuple[str, str], *, bootstrap: bool = False) -> list[dict[str, Any]]:
    """Every metric of one segment; a segment where an arm is empty yields no rows."""
    t, c = arms.treated, arms.control
    if len(t["id"]) == 0 or len(c["id"]) == 0:
        return []
    out = []
    net_t, gone_t = _known(t["net_value_of_purchases"])
    net_c, gone_c = _known(c["net_value_of_purchases"])
    gone = f"{gone_t + gone_c:,} customers with a points-rule break left out" if gone_t + gone_c else ""
    if len(net_t) and len(net_c):
        out.append(_row(segment, X.compare_means(net_t, net_c, metric="net_revenue_per_customer"), "cents", gone))
        if bootstrap:
            out.append(_row(segment, X.bootstrap_difference(net_t, net_c, metric="net_revenue_per_customer",
                                                            resamples=BOOTSTRAP_RESAMPLES, seed=BOOTSTRAP_SEED),
                            "cents", gone))
    gross = lambda a: a["value_of_purchases"].astype("float64")  # noqa: E731
    n = lambda a: a["number_of_purchases"].astype("float64")  # noqa: E731
    out.append(_row(segment, X.compare_means(gross(t), gross(c), metric="gross_revenue_per_customer"), "cents"))
    out.append(_row(segment, X.compare_means(n(t), n(c), metric="purchases_per_customer"), "purchases"))
    bought_t, bought_c = n(t) > 0, n(c) > 0
    out.append(_row(segment, X.compare_proportions(int(bought_t.sum()), len(bought_t), int(bought_c.sum()),
                                                   len(bought_c), metric="purchaser_share"), "share"))
    if bought_t.any() and bought_c.any():
        basket_t, basket_c = gross(t)[bought_t] / n(t)[bought_t], gross(c)[bought_c] / n(c)[bought_c]
        out.append(_row(segment, X.compare_means(basket_t, basket_c, metric="average_basket"), "cents",
                        "purchasers only (a customer's gross value / purchases)"))
    for k in RETENTION_MONTHS:
        et, ec = t[f"eligible_{k}"].astype(bool), c[f"eligible_{k}"].astype(bool)
        if et.sum() and ec.sum():
            out.append(_row(segment, X.compare_proportions(
                int(t[f"active_{k}"][et].sum()), int(et.sum()), int(c[f"active_{k}"][ec].sum()), int(ec.sum()),
                metric=f"retention_month_{k}"), "share",
                f"customers whose month {k} after signup ended by the as-of date"))
    return out


def test_table(arms: Arms) -> pa.Table:
    """Every metric overall (with the revenue bootstrap) and per segment level."""
    rows = compare(arms, OVERALL, bootstrap=True)
    for s in SEGMENTS:
        levels = sorted(set(arms.treated[s]) | set(arms.control[s]))
        for level in levels:
            rows += compare(arms.subset(s, level), (s, level))
    return pa.Table.from_pylist(rows, schema=TEST_SCHEMA)


def balance_table(arms: Arms) -> pa.Table:
    """Whether randomisation balanced the arms at signup: a chi-square test per segment column (a
    row per level with its shares) and the standardised difference of signup dates."""
    rows: list[dict[str, Any]] = []
    for s in SEGMENTS:
        b = X.balance_categorical(list(arms.treated[s]), list(arms.control[s]), covariate=s, unknown=UNKNOWN)
        nt, nc = sum(v[0] for v in b.levels.values()), sum(v[1] for v in b.levels.values())
        for level, (a, z) in sorted(b.levels.items()):
            rows.append({"covariate": s, "level": level, "n_treated": a, "n_control": z,
                         "share_treated": a / nt if nt else None, "share_control": z / nc if nc else None,
                         "method": b.method, "statistic": b.statistic, "p_value": b.p_value, "note": b.note})
    days = lambda a: np.array([(d - dt.date(1970, 1, 1)).days for d in a["signup_date"]], dtype="float64")  # noqa: E731
    b = X.balance_numeric(days(arms.treated), days(arms.control), covariate="signup_date")
    rows.append({"covariate": "signup_date", "level": "days since 1970-01-01", "n_treated": len(arms.treated["id"]),
                 "n_control": len(arms.control["id"]), "share_treated": None, "share_control": None,
                 "method": b.method, "statistic": b.statistic, "p_value": b.p_value, "note": b.note})
    return pa.Table.from_pylist(rows, schema=BALANCE_SCHEMA)


def summary_table(arms: Arms, tests: pa.Table, discounts_cents: int, outstanding_points: int, cfg: LoyaltyConfig,
                  as_of: dt.date) -> pa.Table:
    """The headline: revenue loss from redemptions, points liability, and the programme's net effect.
    `outstanding_points`: the programme arm's point_differentials up to the as-of date (the same sum
    `loyalty.points_liability` ends on). Every row carries `as_of`, so a reader can tell stale figures."""
    t = arms.treated
    n_t = len(t["id"])
    gross_t = float(t["value_of_purchases"].astype("float64").sum())
    outstanding = float(outstanding_points)
    rate = cfg.redemption_discount_cents / cfg.redemption_points
    liability = outstanding * rate
    net = [r for r in tests.to_pylist() if (r["segment"], r["level"]) == OVERALL
           and r["metric"] == "net_revenue_per_customer" and r["method"] == "welch"]
    rows = [
        {"measure": "customers_enrolled", "value": float(n_t), "unit": "customers"},
        {"measure": "customers_control", "value": float(len(arms.control["id"])), "unit": "customers"},
        {"measure": "gross_revenue_enrolled", "value": gross_t, "unit": "cents"},
        {"measure": "redemption_discounts", "value": float(discounts_cents), "unit": "cents",
         "note": "the programme's cost already paid: discounts given on redemptions"},
        {"measure": "revenue_loss_share", "value": discounts_cents / gross_t if gross_t else None, "unit": "share",
         "note": "redemption discounts / the enrolled arm's gross revenue (the seed's 'revenue loss')"},
        {"measure": "points_outstanding", "value": outstanding, "unit": "points"},
        {"measure": "points_liability", "value": liability, "unit": "cents",
         "note": f"outstanding points x {rate:g} cents (the redemption rate)"},
    ]
    if net:
        r = net[0]
        scale = lambda v: None if v is None else v * n_t  # noqa: E731
        rows.append({"measure": "net_revenue_per_customer_difference", "value": r["difference"],
                     "ci_low": r["ci_low"], "ci_high": r["ci_high"], "unit": "cents",
                     "note": "enrolled - control, net of redemption discounts (Welch 95% interval)"})
        rows.append({"measure": "incremental_net_revenue", "value": scale(r["difference"]),
                     "ci_low": scale(r["ci_low"]), "ci_high": scale(r["ci_high"]), "unit": "cents",
                     "note": "the difference x enrolled customers: the effect after the discounts paid"})
        rows.append({"measure": "net_effect_after_liability", "value": scale(r["difference"]) - liability,
                     "ci_low": None if r["ci_low"] is None else scale(r["ci_low"]) - liability,
                     "ci_high": None if r["ci_high"] is None else scale(r["ci_high"]) - liability, "unit": "cents",
                     "note": "incremental net revenue minus the outstanding points' value (if all were redeemed); "
                             "operating costs are not in the data"})
    return pa.Table.from_pylist([{**r, "as_of": as_of} for r in rows], schema=SUMMARY_SCHEMA)
