"""Check builders: each returns a `Check` whose query selects the rows that break a rule."""

from __future__ import annotations

import ibis.expr.types as ir

from martops.checks.core import Check, Severity


def sums_to(
    table: ir.Table, name: str, *, group_by: list[str], column: str, value: float = 1.0,
    tolerance: float = 1e-9, severity: Severity = "error",
) -> Check:
    """Groups whose `column` does not sum to `value` (e.g. credit per conversion sums to 1)."""
    g = table.group_by(group_by).aggregate(total=table[column].sum(), rows=table.count())
    failing = g.filter((g.total - value).abs() > tolerance)
    return Check(f"sums_to_{value:g}({column} by {', '.join(group_by)})", name, failing, severity)


def non_negative(table: ir.Table, name: str, column: str, severity: Severity = "error") -> Check:
    failing = table.filter(table[column] < 0)
    return Check(f"non_negative({column})", name, failing, severity)


def not_nan(table: ir.Table, name: str, column: str, severity: Severity = "error") -> Check:
    col = table[column]
    failing = table.filter(col.isnull() | col.isnan() | col.isinf())
    return Check(f"finite({column})", name, failing, severity)


def attribution_checks(credits: ir.Table, name: str, tolerance: float = 1e-9) -> list[Check]:
    """Every attributed conversion: finite credits >= 0 that sum to 1."""
    return [
        not_nan(credits, name, "ihc"),
        non_negative(credits, name, "ihc"),
        sums_to(credits, name, group_by=["model", "conv_id"], column="ihc", tolerance=tolerance),
    ]



