"""The business view of attribution: per channel over a range, cost, conversions, revenue, CPO, ROAS.

Read from `marts.channel_reporting` (one row per model, channel and session date), summed over
the session dates in the range. Ratios are ratios of the sums (never averages of daily ratios):
CPO = cost / conversions (the cost of one attributed order), ROAS = revenue / cost. A cost that
is unknown (NULL in channel_reporting) is not summed as 0: `cost` covers the known costs, and
`unknown_cost_sessions` counts the sessions left out; CPO and ROAS are None where the
denominator is 0 or the cost unknown.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import ibis

from martops.attribution import tables as T
from martops.engine import Warehouse
from martops.errors import StepError


@dataclasses.dataclass(frozen=True)
class ChannelRow:
    """One channel under one model over the range. Money in the data's currency; conversions are
    summed fractional credits (a conversion split over three channels adds 1/3 to each)."""

    model: str
    channel_name: str
    cost: float | None
    conversions: float
    revenue: float
    unknown_cost_sessions: int

    @property
    def cpo(self) -> float | None:
        return None if self.cost is None or self.conversions == 0 else self.cost / self.conversions

    @property
    def roas(self) -> float | None:
        return None if not self.cost else self.revenue / self.cost


def channel_view(wh: Warehouse, models: list[str] | None, since: dt.date | None,
                 until: dt.date | None) -> tuple[list[str], list[ChannelRow], tuple[dt.date, dt.date]]:
    """(models shown, rows sorted by model then cost descending, (first, last) date of the rows summed).

    `models` None means every model in channel_reporting. Raises StepError when the table is
    missing, a model was never reported (naming those that were) or the range has no rows
    (naming the dates there are).
    """
    if not wh.exists(T.CHANNEL_REPORTING):
        raise StepError("marts.channel_reporting does not exist yet; run `martops attribution run` (or `report`) first")
    cr = wh.table(T.CHANNEL_REPORTING)
    have = sorted(wh.to_pyarrow(cr.select("model").distinct()).column("model").to_pylist())
    models = models or have
    unknown = [m for m in models if m not in have]
    if unknown:
        raise StepError(f"channel_reporting has no rows of model(s) {', '.join(map(repr, unknown))}; models reported: "
                        f"{', '.join(have) or 'none'} (run `martops attribution attribute` and `report` with --model)")
    t = cr.filter(cr.model.isin(models))
    if since is not None:
        t = t.filter(t.date >= since)
    if until is not None:
        t = t.filter(t.date <= until)
    unknown_col = t.unknown_cost_sessions if "unknown_cost_sessions" in t.columns else ibis.literal(0)
    agg = t.group_by(["model", "channel_name"]).aggregate(
        cost=t.cost.sum(), conversions=t.ihc.sum(), revenue=t.ihc_revenue.sum(),
        unknown_cost_sessions=unknown_col.fill_null(0).sum(), first=t.date.min(), last=t.date.max())
    found = wh.to_pyarrow(agg).to_pylist()
    if not found:
        span = wh.to_pyarrow(cr.filter(cr.model.isin(models)).aggregate(a=cr.date.min(), b=cr.date.max())).to_pylist()[0]
        dated = (f"{since}..{until}" if since and until else f"from {since}" if since else f"through {until}")
        raise StepError(f"no rows in channel_reporting dated {dated} for "
                        f"{', '.join(models)}; its rows are dated {_day(span['a'])}..{_day(span['b'])}")
    rows = [ChannelRow(r["model"], r["channel_name"], r["cost"], float(r["conversions"] or 0),
                       float(r["revenue"] or 0), int(r["unknown_cost_sessions"] or 0)) for r in found]
    rows.sort(key=lambda r: (models.index(r.model), -(r.cost or 0), r.channel_name))
    span = (min(_day(r["first"]) for r in found), max(_day(r["last"]) for r in found))
    return models, rows, span


def _day(value) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value
