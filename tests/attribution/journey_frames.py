"""Build journeys tables directly (no ingest), for model tests."""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd

BASE = dt.datetime(2023, 9, 1)


def journeys_frame(journeys: dict[str, list[tuple]]) -> ibis.Table:
    """journeys: conv_id -> [(hours_before_conversion, channel, holder, closer), ...] oldest first."""
    rows = []
    for conv_id, sessions in journeys.items():
        conv_ts = BASE + dt.timedelta(days=30)
        n = len(sessions)
        for i, (hours, channel, holder, closer) in enumerate(sessions, start=1):
            ts = conv_ts - dt.timedelta(hours=hours)
            rows.append(dict(
                conv_id=conv_id, conv_date=conv_ts.date(), conv_ts=conv_ts, revenue=10.0,
                session_id=f"{conv_id}-s{i:03d}", session_ts=ts, event_date=ts.date(),
                channel_name=channel, holder_engagement=holder, closer_engagement=closer,
                impression_interaction=0, position=i, n_sessions=n,
            ))
    return ibis.memtable(pd.DataFrame(rows))
