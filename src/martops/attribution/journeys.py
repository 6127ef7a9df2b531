"""Customer journeys: for each conversion, the same user's sessions strictly before it.

A session can sit in several journeys (a user who converts twice); order inside a journey is
(session_ts, session_id) so that sessions sharing a timestamp still get a stable position.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from martops.attribution import quality, tables as T
from martops.checks import catalog
from martops.checks.store import recorded
from martops.config import ProjectConfig
from martops.engine import Warehouse
from martops.errors import StepError
from martops.ops.runlog import current_run_id


def journeys_expr(sessions: ir.Table, conversions: ir.Table, lookback_days: int | None) -> ir.Table:
    c, s = conversions, sessions
    preds = [c.user_id == s.user_id, s.session_ts < c.conv_ts]
    if lookback_days:
        preds.append(s.session_ts >= c.conv_ts - ibis.interval(days=lookback_days))
    j = c.join(s, preds).select(
        c.conv_id, c.conv_date, c.conv_ts, c.revenue,
        s.session_id, s.session_ts, s.event_date, s.channel_name,
        s.holder_engagement, s.closer_engagement, s.impression_interaction,
    )
    order = ibis.window(group_by=j.conv_id, order_by=[j.session_ts, j.session_id])
    whole = ibis.window(group_by=j.conv_id)
    return j.mutate(
        position=(ibis.row_number().over(order) + 1).cast("int32"),
        n_sessions=j.count().over(whole).cast("int32"),
    )


def unattributed_expr(conversions: ir.Table, journeys: ir.Table) -> ir.Table:
    """Conversions with no earlier session: counted and kept, never silently dropped."""
    lost = conversions.anti_join(journeys, conversions.conv_id == journeys.conv_id)
    return lost.select(
        "conv_id", "user_id", "conv_date", "conv_ts", "revenue",
        reason=ibis.literal("no session of the user before the conversion"),
    )


def build_journeys(wh: Warehouse, since: dt.date, until: dt.date, lookback_days: int | None,
                   project: ProjectConfig | None = None) -> dict[str, int]:
    """Replace the journeys of conversions dated [since, until]; returns counts for the result.

    StepError, after the (empty) journeys and the unattributed conversions are stored, when the
    range has conversions but none has an earlier session of its user: every model would credit
    nothing, and a run that reports success with no credit at all hides a wrong range or a
    lookback that is too short."""
    conv = wh.table(T.CONVERSIONS)
    conv = conv.filter(conv.conv_date.between(since, until))
    expr = journeys_expr(wh.table(T.SESSIONS), conv, lookback_days)
    where, params = "conv_date BETWEEN ? AND ?", [since, until]
    with recorded(wh, current_run_id()) as results, wh.transaction():
        wh.ensure_table(T.JOURNEYS, expr.schema(), partition="conv_date")
        wh.delete_where(T.JOURNEYS, where, params)
        rows = wh.insert(T.JOURNEYS, expr)
        stored = wh.table(T.JOURNEYS)
        stored = stored.filter(stored.conv_date.between(since, until))
        lost = unattributed_expr(conv, stored)
        wh.ensure_table(T.UNATTRIBUTED, lost.schema(), partition="conv_date")
        wh.delete_where(T.UNATTRIBUTED, where, params)
        n_lost = wh.insert(T.UNATTRIBUTED, lost)
        _ensure_non_converting_view(wh)
        catalog.gate(wh, project or ProjectConfig(), [T.JOURNEYS], results, quality.TABLE_CHECKS)
    n_conv = int(wh.scalar(conv.count()))
    if n_conv and not rows:
        window = f" within attribution.lookback_days ({lookback_days})" if lookback_days else ""
        raise StepError(
            f"none of the {n_conv:,} conversion(s) dated {since}..{until} has an earlier session of its user{window}, "
            "so there is nothing to attribute; they are listed in attribution.unattributed_conversions. "
            "Check the range (or the lookback) against the sessions' dates")
    return {"conversions": n_conv, "journey_rows": rows, "without_sessions": n_lost}


def _ensure_non_converting_view(wh: Warehouse) -> None:
    """Sessions in no journey, for path models (Markov, Shapley) that need non-converting paths.
    Columns named, in the table's order: a `s.*` lists a partitioned table's date last on Spark."""
    cols = ", ".join(f"s.{wh.ident(c)}" for c in wh.table(T.SESSIONS).columns)
    wh.execute(
        f"CREATE OR REPLACE VIEW {wh.quoted(T.NON_CONVERTING)} AS "
        f"SELECT {cols} FROM {wh.quoted(T.SESSIONS)} s "
        f"WHERE NOT EXISTS (SELECT 1 FROM {wh.quoted(T.JOURNEYS)} j WHERE j.session_id = s.session_id)"
    )
