"""The ingest step: challenge SQLite -> typed staging tables, replacing the range it covers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from martops.attribution import tables as T
from martops.engine import Warehouse
from martops.sources.sqlite import ChallengeSource


def ingest(
    wh: Warehouse, db: str | Path, since: dt.date, until: dt.date, lookback_days: int | None = None,
) -> dict:
    """Load conversions dated [since, until] and the sessions a journey of theirs can use.

    Sessions: every session up to `until` (from `since - lookback_days` when a lookback is set),
    with its cost. Re-running replaces exactly those date ranges in staging, so ranges can be
    loaded in any order and any number of times.
    """
    src = ChallengeSource(wh, db)
    lo = since - dt.timedelta(days=lookback_days) if lookback_days else None
    sessions, conversions = src.sessions(lo, until), src.conversions(since, until)
    s_where, s_params = ("event_date <= ?", [until]) if lo is None else ("event_date BETWEEN ? AND ?", [lo, until])
    try:
        with wh.transaction():
            wh.ensure_table(T.SESSIONS, sessions.schema())
            wh.delete_where(T.SESSIONS, s_where, s_params)
            n_sessions = wh.insert(T.SESSIONS, sessions)
            wh.ensure_table(T.CONVERSIONS, conversions.schema())
            wh.delete_where(T.CONVERSIONS, "conv_date BETWEEN ? AND ?", [since, until])
            n_conv = wh.insert(T.CONVERSIONS, conversions)
        orphans = src.orphan_costs()
    except duckdb.ConversionException as exc:
        raise src.explain_bad_value(exc) from exc
    finally:
        src.close()
    return {"sessions": n_sessions, "conversions": n_conv, "orphan_costs": orphans}
