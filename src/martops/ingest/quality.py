"""Built-in checks of the FX tables: what proves the rates in staging.fx_rates can be used.

- one rate per day, base and currency (the grain), nothing NULL;
- every rate a positive finite number;
- the base absent from its own rates (EUR in EUR is 1 by definition: a row for it means the
  answer was misread);
- no gap between two business days longer than `quality.fx_max_gap_days` days without a rate
  (4: Easter's Good Friday to Easter Monday), per base and currency: a longer one is a missing
  fetch, not a holiday;
- a day-over-day move beyond `quality.fx_max_daily_move_pct` percent warns;
- the reconciliation (ops.fx_reconciliation) within its tolerance (see martops.ingest.reconcile).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from martops.checks import builders as B
from martops.checks.core import Check
from martops.config import QualityConfig
from martops.ingest import tables as T


def _consecutive(t: ir.Table) -> ir.Table:
    """Each row with the previous business day's date and rate of its base and currency."""
    w = ibis.window(group_by=["base", "currency"], order_by="date")
    s = t.select("date", "base", "currency", "rate", previous_date=t.date.lag().over(w),
                 previous_rate=t.rate.lag().over(w))
    return s.filter(s.previous_date.notnull())


def gaps(t: ir.Table, name: str, max_gap_days: int) -> Check:
    c = _consecutive(t)
    c = c.mutate(days_without_rate=c.date.delta(c.previous_date, unit="day") - 1)
    return Check(f"no_gap(at most {max_gap_days} days without a rate)", name,
                 c.filter(c.days_without_rate > max_gap_days).select("base", "currency", "previous_date", "date",
                                                                     "days_without_rate"))


def moves(t: ir.Table, name: str, max_move_pct: float) -> Check:
    c = _consecutive(t)
    c = c.mutate(move_pct=(c.rate / c.previous_rate - 1) * 100)
    return Check(f"daily_move(within {max_move_pct:g}%)", name,
                 c.filter(c.move_pct.abs() > max_move_pct).select("base", "currency", "previous_date", "previous_rate",
                                                                  "date", "rate", "move_pct"), severity="warn")


def fx_rates(t: ir.Table, name: str, q: QualityConfig) -> list[Check]:
    checks = [B.not_null(t, name, ["date", "base", "currency", "rate"]), B.unique(t, name, ["date", "base", "currency"])]
    if not {"date", "base", "currency", "rate"} <= set(t.columns):
        return checks  # not_null names the missing columns
    return [*checks,
            Check("positive(rate)", name, t.filter((t.rate <= 0) | t.rate.isnan() | t.rate.isinf())),
            Check("base_not_in_rates(currency != base)", name, t.filter(t.currency == t.base)),
            gaps(t, name, q.fx_max_gap_days), moves(t, name, q.fx_max_daily_move_pct)]


def reconciliation(t: ir.Table, name: str, q: QualityConfig) -> list[Check]:
    return [B.not_null(t, name, ["date", "from_currency", "to_currency", "computed", "api_rate"]),
            Check("reconciled(abs_diff <= tolerance)", name, t.filter(~(t.abs_diff <= t.tolerance)))]


TABLE_CHECKS = {T.FX_RATES: fx_rates, T.FX_RECONCILIATION: reconciliation}
STAGING_SOURCES = {T.FX_RATES: ()}
"""Staging table -> its quarantine tables (none: a bad answer fails the load whole)."""
