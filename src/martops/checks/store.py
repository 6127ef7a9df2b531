"""`ops.check_results`: every check result, with a sample of failing rows and the query to rerun.

Results are written outside the step's transaction, so a failing check that rolls a step back
still leaves its evidence behind.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from typing import Iterator

import ibis

from martops.checks.core import CheckResult
from martops.engine import Warehouse

CHECK_RESULTS = "ops.check_results"

SCHEMA = ibis.schema({
    "run_id": "string", "checked_at": "timestamp", "check_name": "string", "table_name": "string",
    "severity": "string", "status": "string", "failing_count": "int64", "observed": "float64",
    "sample": "string", "query": "string", "message": "string",
})


def record(wh: Warehouse, run_id: str, results: list[CheckResult]) -> int:
    if not results:
        return 0
    now = dt.datetime.now()
    rows = {
        "run_id": [run_id] * len(results),
        "checked_at": [now] * len(results),
        "check_name": [r.check for r in results],
        "table_name": [r.table for r in results],
        "severity": [r.severity for r in results],
        "status": [r.status for r in results],
        "failing_count": [r.failing_count for r in results],
        "observed": [r.observed for r in results],
        "sample": [json.dumps(r.sample, default=str) if r.sample else None for r in results],
        "query": [r.query for r in results],
        "message": [r.message or None for r in results],
    }
    wh.ensure_table(CHECK_RESULTS, SCHEMA)
    return wh.insert(CHECK_RESULTS, ibis.memtable(rows, schema=SCHEMA))


def previous_observation(wh: Warehouse, table: str, check_prefix: str) -> float | None:
    """The last figure recorded by a check on `table` whose name starts with `check_prefix`."""
    if not wh.exists(CHECK_RESULTS):
        return None
    t = wh.table(CHECK_RESULTS)
    t = t.filter((t.table_name == table) & t.check_name.startswith(check_prefix) & t.observed.notnull()
                 & (t.status != "error"))
    rows = wh.to_pyarrow(t.order_by(ibis.desc("checked_at")).limit(1).select("observed")).to_pylist()
    return rows[0]["observed"] if rows else None


@contextlib.contextmanager
def recorded(wh: Warehouse, run_id: str) -> Iterator[list[CheckResult]]:
    """Collect results in the block; keep them in ops.check_results even if the block fails.

    Use it outside the step's transaction (`with recorded(...) as results, wh.transaction():`),
    so the results are written after a failed step has rolled back.
    """
    results: list[CheckResult] = []
    try:
        yield results
    finally:
        if results:
            record(wh, run_id, results)


def results_of_run(wh: Warehouse, run_id: str) -> list[dict]:
    if not wh.exists(CHECK_RESULTS):
        return []
    t = wh.table(CHECK_RESULTS)
    return wh.to_pyarrow(t.filter(t.run_id == run_id).order_by("checked_at")).to_pylist()
