"""The attribution challenge's SQLite database as a source.

DuckDB reads the file through the sqlite scanner from the pinned wheel (no download), every
column as text, so typing happens here, under our control, with errors that name the row.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import ibis.expr.types as ir

from martops.engine import Warehouse
from martops.errors import SourceError

ALIAS = "challenge_src"

# table -> required columns, in the challenge's order
CHALLENGE_TABLES: dict[str, tuple[str, ...]] = {
    "session_sources": (
        "session_id", "user_id", "event_date", "event_time", "channel_name",
        "holder_engagement", "closer_engagement", "impression_interaction",
    ),
    "conversions": ("conv_id", "user_id", "conv_date", "conv_time", "revenue"),
    "session_costs": ("session_id", "cost"),
}

# (table, column) -> (target type, what a good value looks like) for the error message
TYPES: dict[tuple[str, str], tuple[str, str]] = {
    ("session_sources", "event_date"): ("DATE", "a date YYYY-MM-DD"),
    ("session_sources", "event_time"): ("TIME", "a time HH:MM:SS"),
    ("session_sources", "holder_engagement"): ("TINYINT", "0 or 1"),
    ("session_sources", "closer_engagement"): ("TINYINT", "0 or 1"),
    ("session_sources", "impression_interaction"): ("TINYINT", "0 or 1"),
    ("conversions", "conv_date"): ("DATE", "a date YYYY-MM-DD"),
    ("conversions", "conv_time"): ("TIME", "a time HH:MM:SS"),
    ("conversions", "revenue"): ("DOUBLE", "a number"),
    ("session_costs", "cost"): ("DOUBLE", "a number or NULL"),
}


class ChallengeSource:
    """An attached challenge database; tables come back typed (dates, timestamps, numbers)."""

    def __init__(self, wh: Warehouse, path: str | Path):
        self.wh = wh
        self.path = Path(path)
        wh.attach_sqlite(self.path, ALIAS)
        self._validate_structure()

    def _validate_structure(self) -> None:
        existing = set(self.wh.attached_tables(ALIAS))
        for table, cols in CHALLENGE_TABLES.items():
            if table not in existing:
                raise SourceError(
                    f"{self.path}: table {table!r} is missing; the database has "
                    f"{sorted(existing) or 'no tables'}. Expected the challenge schema "
                    f"(session_sources, conversions, session_costs)."
                )
            have = [r[1] for r in self.wh.execute(f"PRAGMA table_info('{ALIAS}.main.{table}')")]
            missing = [c for c in cols if c not in have]
            if missing:
                raise SourceError(
                    f"{self.path}: table {table!r} lacks column(s) {missing}; it has {have}"
                )

    def raw(self, table: str) -> ir.Table:
        return self.wh.backend.table(table, database=(ALIAS, "main"))

    def sessions(self, lo: dt.date | None, hi: dt.date) -> ir.Table:
        """Sessions with event_date in [lo, hi] (lo None: from the beginning), costs joined."""
        s = self.raw("session_sources")
        pred = s.event_date <= hi.isoformat()
        if lo is not None:
            pred &= s.event_date >= lo.isoformat()
        s = s.filter(pred)
        c = self.raw("session_costs")
        joined = s.left_join(c, s.session_id == c.session_id)
        date = joined.event_date.cast("date")
        return joined.select(
            session_id=joined.session_id,
            user_id=joined.user_id,
            event_date=date,
            session_ts=(joined.event_date + " " + joined.event_time).cast("timestamp"),
            channel_name=joined.channel_name,
            holder_engagement=joined.holder_engagement.cast("int8"),
            closer_engagement=joined.closer_engagement.cast("int8"),
            impression_interaction=joined.impression_interaction.cast("int8"),
            cost=joined.cost.cast("float64"),
        )

    def conversions(self, since: dt.date, until: dt.date) -> ir.Table:
        c = self.raw("conversions")
        c = c.filter(c.conv_date.between(since.isoformat(), until.isoformat()))
        return c.select(
            conv_id=c.conv_id,
            user_id=c.user_id,
            conv_date=c.conv_date.cast("date"),
            conv_ts=(c.conv_date + " " + c.conv_time).cast("timestamp"),
            revenue=c.revenue.cast("float64"),
        )

    def orphan_costs(self) -> int:
        """Cost rows whose session does not exist: reported, because they can never be counted."""
        s, c = self.raw("session_sources"), self.raw("session_costs")
        return int(self.wh.scalar(c.anti_join(s, c.session_id == s.session_id).count()))

    def explain_bad_value(self, exc: duckdb.Error) -> SourceError:
        """Turn DuckDB's 'could not convert' into a message that names table, column, row, value."""
        for (table, column), (sqltype, expected) in TYPES.items():
            q = (
                f'SELECT rowid, "{column}" FROM {ALIAS}.main.{table} '
                f'WHERE "{column}" IS NOT NULL AND TRY_CAST("{column}" AS {sqltype}) IS NULL LIMIT 1'
            )
            rows = self.wh.execute(q)
            if rows:
                rowid, value = rows[0]
                return SourceError(
                    f"{self.path}: {table}.{column} row {rowid}: {value!r} is not {expected}. "
                    f"Fix the source row and re-run; nothing was loaded."
                )
        return SourceError(f"{self.path}: a value could not be typed: {exc}")

    def close(self) -> None:
        self.wh.detach(ALIAS)
