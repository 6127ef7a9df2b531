"""`marts.crm_support`: resolution rate and volume of support interactions, one long table.

One table with a `dimension` column rather than three tables: every cut has the same measures,
so one table exports, filters and charts the same way. Dimensions and their `value`:

- `all`: one row, `all` — the overall figures;
- `channel`: the interaction type (phone, chat, email, unknown);
- `month`: `YYYY-MM` of the interaction date (`unknown` without a date);
- `segment`: the golden customer's `rfm_segment` from `marts.crm_customer_value` (build that
  first), `unknown` when the customer is not in `crm.customers` (an orphan id).

Measures: `interactions` (every row), `resolved`, `unresolved`, `resolved_unknown` (blank
Issue_Resolved), and `resolution_rate` = resolved / (resolved + unresolved): a blank is not a
failure, so it leaves the denominator and is counted on its own. NULL when nothing is known.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from martops.crm import tables as T
from martops.crm.marts import customers, identity
from martops.engine import Warehouse
from martops.measures import ratio

TABLE = "marts.crm_support"
DIMENSIONS = ("all", "channel", "month", "segment")
UNKNOWN = "unknown"
COLUMNS = ["dimension", "value", "interactions", "resolved", "unresolved", "resolved_unknown", "resolution_rate",
           "interaction_share"]


def _labelled(wh: Warehouse) -> ir.Table:
    """Interactions with their channel, month and customer segment as strings."""
    i = identity.to_golden(wh, wh.table(T.INTERACTIONS))
    month = i.date.strftime("%Y-%m").fill_null(UNKNOWN)
    i = i.mutate(channel=i.type.fill_null(UNKNOWN), month=month)
    if wh.exists(customers.TABLE):
        cv = wh.table(customers.TABLE)
        cv = cv.filter(cv.known).select(_gid="golden_id", _segment="rfm_segment")
        i = i.left_join(cv, i.golden_id == cv._gid).drop("_gid")
        return i.mutate(segment=i._segment.fill_null(UNKNOWN)).drop("_segment")
    return i.mutate(segment=ibis.literal(UNKNOWN))


def support(wh: Warehouse) -> ir.Table:
    """The mart's rows (an expression)."""
    i = _labelled(wh)
    parts = []
    for dim in DIMENSIONS:
        key = ibis.literal("all") if dim == "all" else i[dim]
        g = i.group_by(dimension=ibis.literal(dim), value=key).aggregate(
            interactions=i.count(), resolved=(i.resolved == True).sum().fill_null(0),  # noqa: E712
            unresolved=(i.resolved == False).sum().fill_null(0),  # noqa: E712
            resolved_unknown=i.resolved.isnull().sum().fill_null(0))
        parts.append(g)
    t = ibis.union(*parts)
    t = t.mutate(resolution_rate=ratio(t.resolved, t.resolved + t.unresolved),
                 interaction_share=ratio(t.interactions, t.interactions.sum().over(ibis.window(group_by="dimension"))))
    pos = ibis.cases(*[(t.dimension == d, k) for k, d in enumerate(DIMENSIONS)], else_=len(DIMENSIONS))
    return t.select(*COLUMNS).order_by([pos, "value"])


def build(wh: Warehouse) -> int:
    return wh.create_or_replace(TABLE, support(wh))


def overall(wh: Warehouse) -> dict | None:
    t = wh.table(TABLE)
    rows = wh.to_pyarrow(t.filter(t.dimension == "all")).to_pylist()
    return rows[0] if rows else None
