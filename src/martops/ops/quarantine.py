"""`ops.quarantine`: source rows that could not be loaded, each with its reason and whole raw row.

Rows are replaced per (source, table, partition range) exactly as staging is, so re-running a
range leaves one copy of each rejected row, and fixing the source row and re-running removes it.
Rows whose partition date itself is unreadable have `partition_date` NULL and belong to every run.
"""

from __future__ import annotations

import datetime as dt

from typing import Callable

import ibis
import ibis.expr.types as ir

from martops.config import QualityConfig
from martops.engine import Warehouse
from martops.errors import MartopsError, SourceError

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


def account(wh: Warehouse, source: str, counts: dict[str, dict[str, int]], quality: QualityConfig,
            subject: Callable[[str], tuple[str, str]]) -> None:
    """Inside a load's transaction: read = loaded + quarantined per table, and not so many bad rows
    that the format must have changed (then the load fails and nothing is written).

    `subject(table)` names the rows in the message: (where, noun), e.g. ('db.sqlite', 'conversions rows').
    """
    for table, c in counts.items():
        if c["read"] != c["loaded"] + c["quarantined"]:
            raise MartopsError(f"row accounting broke for {table}: read {c['read']:,} != loaded "
                               f"{c['loaded']:,} + quarantined {c['quarantined']:,} (a martops bug; please report)")
        read, bad, limit = c["read"], c["quarantined"], quality.max_quarantined_fraction
        if read >= max(quality.fraction_applies_from_rows, 1) and bad / read > limit:
            raise _too_dirty(wh, source, table, read, bad, limit, *subject(table))


def _too_dirty(wh: Warehouse, source: str, table: str, read: int, bad: int, limit: float,
               where: str, noun: str) -> SourceError:
    q = wh.table(QUARANTINE)
    q = q.filter((q.source == source) & (q.table_name == table))
    example = wh.to_pyarrow(q.order_by("row_number").select("row_number", "reason").limit(1)).to_pylist()
    first = f"; first: row {example[0]['row_number']}: {example[0]['reason']}" if example else ""
    return SourceError(
        f"{where}: {bad:,} of {read:,} {noun} ({bad / read:.1%}) could not be loaded, more than "
        f"quality.max_quarantined_fraction ({limit:.1%}); that looks like a format change, not a few dirty "
        f"rows, so nothing was loaded. Bad columns: {bad_columns(wh, source, table)}{first}. "
        "Raise the limit in martops.yml to load anyway."
    )
