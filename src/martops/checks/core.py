"""A check is a named Ibis query for bad rows; the runner counts them and keeps an example.

The query text is kept in the result so a person can rerun it against the warehouse.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import ibis.expr.types as ir

from martops.engine import Warehouse
from martops.errors import CheckFailed

Severity = Literal["warn", "error"]


@dataclasses.dataclass(frozen=True)
class Check:
    name: str
    table: str
    failing: ir.Table
    severity: Severity = "error"
    description: str = ""


@dataclasses.dataclass(frozen=True)
class CheckResult:
    check: str
    table: str
    severity: Severity
    failing_count: int
    example: dict[str, Any] | None
    query: str

    @property
    def passed(self) -> bool:
        return self.failing_count == 0

    def __str__(self) -> str:
        if self.passed:
            return f"check {self.check} on {self.table}: pass"
        return (
            f"check {self.check} on {self.table} ({self.severity}): {self.failing_count:,} failing "
            f"row(s); example: {self.example}. Rerun: {self.query}"
        )


def run_checks(wh: Warehouse, checks: list[Check]) -> list[CheckResult]:
    results = []
    for check in checks:
        count = int(wh.scalar(check.failing.count()))
        example = None
        if count:
            rows = wh.to_pyarrow(check.failing.limit(1)).to_pylist()
            example = rows[0] if rows else None
        results.append(
            CheckResult(check.name, check.table, check.severity, count, example, wh.compile(check.failing))
        )
    return results


def enforce(results: list[CheckResult]) -> None:
    """Raise on the first error-severity failure, so the step's transaction rolls back."""
    failed = [r for r in results if not r.passed and r.severity == "error"]
    if failed:
        raise CheckFailed("\n".join(str(r) for r in failed), results)
