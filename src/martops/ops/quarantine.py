"""`ops.quarantine`: source rows that could not be loaded, each with its reason and whole raw row.

Rows are replaced per (source, table, partition range) exactly as staging is, so re-running a
range leaves one copy of each rejected row, and fixing the source row and re-running removes it.
Rows whose partition date itself is unreadable have `partition_date` NULL and belong to every run.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from martops.engine import Warehouse

QUARANTINE = "ops.quarantine"

SCHEMA = ibis.schema({
    "run_id": "string", "quarantined_at": "timestamp", "source": "string", "table_name": "string",
    "row_number": "int64", "row_key": "string", "column_name": "string", "raw_value": "string",
    "reason": "string", "raw_row": "string", "partition_date": "date",
})


def replace(wh: Warehouse, source: str, table: str, rows: ir.Table | None,
            lo: dt.date | None, hi: dt.date | None) -> int:
    """Within the caller's transaction: drop this scope's old quarantine rows, add `rows`."""
    wh.ensure_table(QUARANTINE, SCHEMA)
    where, params = "source = ? AND table_name = ? AND (partition_date IS NULL", [source, table]
    if hi is not None:
        where += " OR partition_date <= ?" if lo is None else " OR partition_date BETWEEN ? AND ?"
        params += [hi] if lo is None else [lo, hi]
    wh.delete_where(QUARANTINE, where + ")", params)
    return wh.insert(QUARANTINE, rows) if rows is not None else 0


def bad_columns(wh: Warehouse, source: str, table: str, top: int = 5) -> dict[str, int]:
    """Quarantined rows of one source table per first bad column, largest first (counted in SQL)."""
    q = wh.table(QUARANTINE)
    q = q.filter((q.source == source) & (q.table_name == table))
    g = q.group_by("column_name").aggregate(rows=q.count()).order_by([ibis.desc("rows"), "column_name"]).limit(top)
    return {r["column_name"]: r["rows"] for r in wh.to_pyarrow(g).to_pylist()}
