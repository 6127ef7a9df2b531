"""`marts.crm_sales_attainment`: each sales rep against target, with bands and performer labels.

- `attainment` = sales_achieved / sales_target; NULL when achieved is missing (a blank is not 0:
  that rep is `unknown`, not the worst) or the target is not positive.
- `attainment_band`: `<50%`, `50-80%`, `80-100%`, `100-120%`, `>=120%` (lower bound inclusive),
  `unknown` without an attainment.
- `performer`: `under` below 80% of target (the band edge a manager would act on), `over` at or
  above 100% (target met), `on track` in between (80% to under 100%), `unknown` without one.
- Region rollups are ratios of sums, sum(achieved) / sum(target) over the reps whose achieved is
  known (a rep without a figure would otherwise count as 0 against the region's target).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from martops.crm import tables as T
from martops.engine import Warehouse
from martops.measures import ratio

TABLE = "marts.crm_sales_attainment"
BANDS = ((0.5, "<50%"), (0.8, "50-80%"), (1.0, "80-100%"), (1.2, "100-120%"))
BAND_ORDER = tuple(b for _, b in BANDS) + (">=120%", "unknown")
PERFORMERS = ("over", "on track", "under", "unknown")
UNDER, OVER = 0.8, 1.0
COLUMNS = ["sales_rep_id", "name", "region", "sales_target", "sales_achieved", "achieved_missing", "attainment",
           "attainment_band", "performer", "gap_to_target"]


def attainment(wh: Warehouse) -> ir.Table:
    """The mart's rows (an expression), best attainment first, unknown last."""
    s = wh.table(T.SALES_TEAM)
    target, achieved = s.sales_target.cast("float64"), s.sales_achieved.cast("float64")
    a = ibis.ifelse(achieved.notnull(), ratio(achieved, target), ibis.null("float64"))
    s = s.mutate(attainment=a, gap_to_target=ibis.ifelse(a.notnull(), target - achieved, ibis.null("float64")))
    band = ibis.cases((s.attainment.isnull(), "unknown"), *[(s.attainment < edge, name) for edge, name in BANDS],
                      else_=">=120%")
    performer = ibis.cases((s.attainment.isnull(), "unknown"), (s.attainment < UNDER, "under"),
                           (s.attainment >= OVER, "over"), else_="on track")
    s = s.mutate(attainment_band=band, performer=performer)
    return s.select(*COLUMNS).order_by([s.attainment.isnull(), ibis.desc("attainment"), "sales_rep_id"])


def build(wh: Warehouse) -> int:
    return wh.create_or_replace(TABLE, attainment(wh))


def by_region(wh: Warehouse) -> ir.Table:
    """Per region: attainment = sum(achieved) / `target_with_achieved` (targets of reps with a figure)."""
    t = wh.table(TABLE)
    known = t.attainment.notnull()
    g = t.group_by("region").aggregate(
        reps=t.count(), reps_known=known.sum(),
        sales_target=t.sales_target.cast("float64").sum(),
        target_with_achieved=ibis.ifelse(known, t.sales_target.cast("float64"), 0.0).sum(),
        sales_achieved=t.sales_achieved.sum(), over=(t.performer == "over").sum(),
        under=(t.performer == "under").sum())
    g = g.mutate(attainment=ratio(g.sales_achieved, g.target_with_achieved))
    return g.order_by([g.attainment.isnull(), ibis.desc("attainment"), "region"])


def _count_by(wh: Warehouse, col: str, order: tuple[str, ...]) -> ir.Table:
    t = wh.table(TABLE)
    g = t.group_by(col).aggregate(reps=t.count(), sales_target=t.sales_target.sum(),
                                  sales_achieved=t.sales_achieved.sum())
    g = g.mutate(share=ratio(g.reps, g.reps.sum().over(ibis.window())))
    pos = ibis.cases(*[(g[col] == v, k) for k, v in enumerate(order)], else_=len(order))
    return g.order_by(pos)


def distribution(wh: Warehouse) -> ir.Table:
    """Reps per attainment band, lowest band first."""
    return _count_by(wh, "attainment_band", BAND_ORDER)


def performers(wh: Warehouse) -> ir.Table:
    return _count_by(wh, "performer", PERFORMERS)
