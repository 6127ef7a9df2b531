"""`ops.quarantine`: source rows that could not be loaded, each with its reason and whole raw row.

Rows are replaced per (source, table, partition range) exactly as staging is, so re-running a
range leaves one copy of each rejected row, and fixing the source row and re-running removes it.
Rows whose partition date itself is unreadable have `partition_date` NULL and belong to every run.

A load that fails on its data (an error check fails, e.g. an empty table once every row was
quarantined, or too many rows were quarantined) rolls back, but its quarantine rows are kept
(`_Keeper`) and the error lists their most common reasons: they are what explains the failure.
Every load that writes through `replace` inside a transaction gets this, whatever its domain.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

import ibis
import ibis.expr.types as ir

from martops import interrupts
from martops.config import QualityConfig
from martops.engine import Warehouse
from martops.errors import CheckFailed, MartopsError, TooManyQuarantined

log = logging.getLogger(__name__)

QUARANTINE = "ops.quarantine"

SCHEMA = ibis.schema({
    "run_id": "string", "quarantined_at": "timestamp", "source": "string", "table_name": "string",
    "row_number": "int64", "row_key": "string", "column_name": "string", "raw_value": "string",
    "reason": "string", "raw_row": "string", "partition_date": "date",
})

KEPT_ON = (CheckFailed, TooManyQuarantined)
"""The failures a load's quarantine rows explain, so they survive its rollback. Other errors (a
missing file, a broken connection, Ctrl-C) leave nothing behind, as the README promises."""
TOP_REASONS = 5


def replace(wh: Warehouse, source: str, table: str, rows: ir.Table | None,
            lo: dt.date | None, hi: dt.date | None) -> int:
    """Within the caller's transaction: drop this scope's old quarantine rows, add `rows`.

    If the transaction then fails on its data (`KEPT_ON`), the scope's new rows are kept.
    """
    wh.ensure_table(QUARANTINE, SCHEMA)
    where, params = "source = ? AND table_name = ? AND (partition_date IS NULL", [source, table]
    if hi is not None:
        where += " OR partition_date <= ?" if lo is None else " OR partition_date BETWEEN ? AND ?"
        params += [hi] if lo is None else [lo, hi]
    where += ")"
    if wh.in_transaction:
        wh.keeper(QUARANTINE, lambda: _Keeper(wh)).scopes[(where, tuple(params))] = None
    wh.delete_where(QUARANTINE, where, params)
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
    that the format must have changed (then the load fails, nothing loads, and the quarantined rows
    are kept with their most common reasons in the error).

    `subject(table)` names the rows in the message: (where, noun), e.g. ('db.sqlite', 'conversions rows').
    """
    for table, c in counts.items():
        if c["read"] != c["loaded"] + c["quarantined"]:
            raise MartopsError(f"row accounting broke for {table}: read {c['read']:,} != loaded "
                               f"{c['loaded']:,} + quarantined {c['quarantined']:,} (a martops bug; please report)")
        read, bad, limit = c["read"], c["quarantined"], quality.max_quarantined_fraction
        if read >= max(quality.fraction_applies_from_rows, 1) and bad / read > limit:
            where, noun = subject(table)
            raise TooManyQuarantined(
                f"{where}: {bad:,} of {read:,} {noun} ({bad / read:.1%}) could not be loaded, more than "
                f"quality.max_quarantined_fraction ({limit:.1%}); that looks like a format change, not a few "
                "dirty rows, so nothing was loaded. Fix the format (or declare it in martops.yml), or raise "
                "the limit to load anyway."
            )


class _Keeper:
    """Keeps one transaction's quarantine rows through its rollback when the load failed on its data.

    Before the ROLLBACK, the rows of every scope `replace` wrote are copied to Parquet files (the
    transaction still sees them); after it, a new transaction replaces the same scopes with them,
    and the error gains the most common reasons with their counts. Registered with
    `Warehouse.keeper`, which calls both hooks; neither raises (a failure here is logged, and the
    step's own error goes on unchanged).
    """

    def __init__(self, wh: Warehouse):
        self.wh = wh
        self.scopes: dict[tuple[str, tuple[Any, ...]], None] = {}
        """(where, params) of every scope written, in order, each once."""
        self.folder: Path | None = None
        self.saved: list[tuple[str, tuple[Any, ...], Path]] = []

    def before_rollback(self, exc: BaseException) -> None:
        if not isinstance(exc, KEPT_ON) or interrupts.requested() or not self.scopes:
            return
        try:
            self.folder = Path(tempfile.mkdtemp(prefix="martops-quarantine-"))
            for i, (where, params) in enumerate(self.scopes):
                path = self.folder / f"scope{i}.parquet"
                self.wh.save_rows(f"SELECT * FROM {self.wh.quoted(QUARANTINE)} WHERE {where}", list(params), path)
                self.saved.append((where, params, path))
        except Exception:  # noqa: BLE001 - never hide the step's own error behind this one
            log.warning("could not keep the quarantined rows of the failed step", exc_info=True)
            self.saved = []

    def after_rollback(self, exc: BaseException) -> None:
        try:
            if not self.saved:
                return
            with self.wh.transaction():
                self.wh.ensure_table(QUARANTINE, SCHEMA)
                for where, params, path in self.saved:
                    self.wh.delete_where(QUARANTINE, where, list(params))
                    self.wh.insert(QUARANTINE, self.wh.loader.read_parquet(path).select(*SCHEMA.names))
            summary = top_reasons(self.wh, [path for _, _, path in self.saved])
            if summary:
                exc.args = (f"{exc}\n{summary}", *exc.args[1:])
        except Exception:  # noqa: BLE001 - never hide the step's own error behind this one
            log.warning("could not keep the quarantined rows of the failed step", exc_info=True)
        finally:
            if self.folder is not None:
                shutil.rmtree(self.folder, ignore_errors=True)


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


# A reason with the row's own raw value written '…' and the numbers after row/line written N, so
# rows that failed the same way group together however their values and places differ.
_REASON_KIND = ("regexp_replace(replace(reason, '''' || coalesce(raw_value, '') || '''', '''…'''), "
                "'(rowid|row|line) [0-9]+', '\\1 N', 'g')")
"""A reason with its own value and place (`row 7`, `line 7`, a SQLite table's `rowid 7`) left out."""


def top_reasons(wh: Warehouse, files: list[Path], top: int = TOP_REASONS) -> str:
    """The most common reasons among quarantine rows saved in `files`, largest first, e.g.

        5 source row(s) this step quarantined are kept in ops.quarantine (`martops quarantine`); ...
          5 x conversions.revenue: revenue '1234,50' is not a number (first: row 1)

    Rows are grouped by their reason with their own value and row/line numbers left out; each
    group shows its first row's reason as written, with the hints (the setting to declare) that
    the parsers put in it.
    """
    files_sql = "[" + ", ".join(_literal(p) for p in files) + "]"
    rows = wh.loader_execute(  # the loader is DuckDB on every engine
        f"SELECT table_name, column_name, {_REASON_KIND} AS kind, count(*) AS n, min(row_number), "
        f"arg_min(reason, row_number), sum(count(*)) OVER () FROM read_parquet({files_sql}) "
        f"GROUP BY ALL ORDER BY n DESC, table_name, column_name, kind LIMIT {int(top)}"
    )
    if not rows:
        return ""
    lines = [f"{int(rows[0][6]):,} source row(s) this step quarantined are kept in ops.quarantine "
             "(`martops quarantine`); the most common reasons:"]
    for table, column, _, n, first_row, first_reason, _ in rows:
        where = f"{table}.{column}" if column else table
        lines.append(f"  {n:,} x {where}: {first_reason} (first: row {first_row})")
    return "\n".join(lines)
