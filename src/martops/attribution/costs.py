"""Session costs: a known cost, nothing (organic), or unknown, and never a guess between them.

A session with no cost row costs nothing: organic traffic has no price. A session whose cost row
exists but holds no usable value (empty, or quarantined: unparseable, a conflicting duplicate) has
an unknown cost: it was paid for, at a price nobody delivered. Summing it as 0 would lower cost and
CPO silently, so `staging.sessions.cost_unknown` marks it and `channel_reporting` counts such
sessions per (channel, date) and leaves the cost empty where every session's cost is unknown.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

EXACT = "decimal(38, 12)"


def with_costs(sessions: ir.Table, costs: ir.Table) -> ir.Table:
    """`sessions` plus `cost` (NULL unless known) and `cost_unknown`.

    `costs` is the annotated session_costs table (`_ok`, `t_cost`); at most one of a session's
    cost rows is `_ok` (duplicates resolve to one), and an exact copy beside it changes nothing.
    """
    ok = costs.filter(costs._ok).select(_cost_sid=costs.session_id, cost=costs.t_cost)
    bad = costs.filter(~costs._ok).select(_bad_sid=costs.session_id).distinct()
    j = sessions.left_join(ok, sessions.session_id == ok._cost_sid)
    j = j.left_join(bad, j.session_id == bad._bad_sid)
    unknown = (j._cost_sid.notnull() & j.cost.isnull()) | (j._cost_sid.isnull() & j._bad_sid.notnull())
    return j.mutate(cost_unknown=unknown).drop("_cost_sid", "_bad_sid")


def per_channel_day(sessions: ir.Table) -> ir.Table:
    """(channel_name, date, cost, unknown_cost_sessions): cost sums the known costs exactly and is
    NULL where every session of the (channel, date) has an unknown cost."""
    s = sessions
    unknown = s.cost_unknown.fill_null(False) if "cost_unknown" in s.columns else ibis.literal(False)
    s = s.mutate(_unknown=unknown.cast("int64"))
    g = s.group_by(channel_name=s.channel_name, date=s.event_date).aggregate(
        known_cost=s.cost.cast(EXACT).sum().coalesce(0), sessions=s.count(), unknown_cost_sessions=s._unknown.sum(),
    )
    cost = ibis.ifelse(g.unknown_cost_sessions == g.sessions, ibis.null(EXACT), g.known_cost)
    return g.select("channel_name", "date", cost=cost, unknown_cost_sessions=g.unknown_cost_sessions)
