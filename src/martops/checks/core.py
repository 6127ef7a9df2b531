"""A check is a named Ibis query for bad rows; the runner counts them and keeps a sample.

The compiled query text is kept in the result so a person can rerun it against the warehouse.
A check that cannot even run (a misspelt column in `martops.yml`) gets status `error` rather
than stopping the other checks: `martops check` must report everything it can.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any, Literal

import ibis.expr.types as ir

from martops import interrupts
from martops.checks.specs import Severity
from martops.engine import Warehouse
from martops.errors import CheckFailed

log = logging.getLogger(__name__)

Status = Literal["pass", "warn", "fail", "error"]
SAMPLE_ROWS = 5


@dataclasses.dataclass(frozen=True)
class Check:
    name: str
    table: str
    failing: ir.Table | None
    severity: Severity = "error"
    observed: ir.Scalar | None = None
    """A figure worth keeping over time (row count, age in hours); row_count compares against it."""
    problem: str | None = None
    """Set when the check could not be built (e.g. unknown column): it reports status `error`."""
    remedy: str = ""
    """What to change when a failure is expected (the setting that sets the limit), shown with it."""


@dataclasses.dataclass(frozen=True)
class CheckResult:
    check: str
    table: str
    severity: Severity
    status: Status
    failing_count: int
    sample: list[dict[str, Any]]
    query: str
    observed: float | None = None
    message: str = ""
    remedy: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    @property
    def blocking(self) -> bool:
        """Stops downstream steps: an error-severity failure, or a check that could not run."""
        return self.status in ("fail", "error")

    @property
    def example(self) -> dict[str, Any] | None:
        return self.sample[0] if self.sample else None

    def __str__(self) -> str:
        if self.status == "pass":
            return f"check {self.check} on {self.table}: pass"
        if self.status == "error":
            return f"check {self.check} on {self.table} could not run: {self.message}"
        return (
            f"check {self.check} on {self.table} ({self.severity}): {self.failing_count:,} failing "
            f"row(s); example: {_plain(self.example)}." + (f" {self.remedy}" if self.remedy else "")
            + f" Rerun: {self.query}"
        )


def _plain(row: dict[str, Any] | None) -> str:
    return json.dumps(row, default=str) if row is not None else "none"


def run_check(wh: Warehouse, check: Check) -> CheckResult:
    if check.problem is not None or check.failing is None:
        return CheckResult(check.name, check.table, check.severity, "error", 0, [], "", None,
                           check.problem or "no query")
    query = ""
    try:
        query = wh.compile(check.failing)
        count = int(wh.scalar(check.failing.count()))
        # the first rows in the order of their columns: the same sample on every run and every engine
        ordered = check.failing.order_by(list(check.failing.columns))
        sample = wh.to_pyarrow(ordered.limit(SAMPLE_ROWS)).to_pylist() if count else []
        observed = None if check.observed is None else wh.scalar(check.observed)
    except Exception as exc:  # noqa: BLE001 - reported as the check's status, never swallowed
        if interrupts.requested():  # Ctrl-C interrupted the query: stop, don't report a broken check
            raise KeyboardInterrupt from exc
        log.debug("check %s on %s failed to run", check.name, check.table, exc_info=True)
        return CheckResult(check.name, check.table, check.severity, "error", 0, [], query, None,
                           f"{type(exc).__name__}: {exc}".splitlines()[0])
    status: Status = "pass" if count == 0 else ("fail" if check.severity == "error" else "warn")
    return CheckResult(check.name, check.table, check.severity, status, count, sample, query,
                       None if observed is None else float(observed), remedy=check.remedy if count else "")


def run_checks(wh: Warehouse, checks: list[Check]) -> list[CheckResult]:
    return [run_check(wh, c) for c in checks]


def enforce(results: list[CheckResult]) -> None:
    """Raise on error-severity failures, so the step's transaction rolls back and nothing downstream runs."""
    failed = [r for r in results if r.blocking]
    if failed:
        raise CheckFailed("\n".join(str(r) for r in failed), results)
