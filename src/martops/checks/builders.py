"""Check builders: each returns a `Check` whose query selects the rows that break a rule.

Every builder works on an Ibis table and knows no domain: a domain composes them for its tables
(e.g. `attribution.quality.customer_journey`, credits summing to 1 per conversion).
A column that does not exist makes a `Check` with `problem` set (status `error`), naming the
columns the table has, instead of raising halfway through a batch of checks.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable

import ibis
import ibis.expr.types as ir

from martops.checks.core import Check
from martops.checks.specs import Severity


def _guard(name: str, table_name: str, severity: Severity, table: ir.Table, columns: list[str],
           build: Callable[[], tuple[ir.Table, ir.Scalar | None] | ir.Table]) -> Check:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        return Check(name, table_name, None, severity,
                     problem=f"column(s) {missing} not in {table_name}; it has {list(table.columns)}")
    built = build()
    failing, observed = built if isinstance(built, tuple) else (built, None)
    return Check(name, table_name, failing, severity, observed)


def not_null(table: ir.Table, name: str, columns: list[str], severity: Severity = "error") -> Check:
    def build() -> ir.Table:
        pred = ibis.or_(*[table[c].isnull() for c in columns])
        return table.filter(pred)
    return _guard(f"not_null({', '.join(columns)})", name, severity, table, columns, build)


def unique(table: ir.Table, name: str, columns: list[str], severity: Severity = "error") -> Check:
    """Key values held by more than one row, with how many (NULL keys are not_null's business)."""
    def build() -> ir.Table:
        g = table.group_by(columns).aggregate(n_rows=table.count())
        return g.filter(g.n_rows > 1)
    return _guard(f"unique({', '.join(columns)})", name, severity, table, columns, build)


def shared_by_several(table: ir.Table, name: str, columns: list[str], distinct: str, label: str | None = None,
                      severity: Severity = "warn") -> Check:
    """Groups of `columns` that several distinct `distinct` values share, with how many and which
    (e.g. two conv_ids of one user in the same second with the same revenue: one order fired twice)."""
    def build() -> ir.Table:
        g = table.group_by(columns).aggregate(n_ids=table[distinct].nunique(),
                                              ids=table[distinct].group_concat(", ", order_by=table[distinct]))
        return g.filter(g.n_ids > 1).order_by([ibis.desc("n_ids"), *columns])
    check_name = label or f"shared_by_several({distinct} by {', '.join(columns)})"
    return _guard(check_name, name, severity, table, [*columns, distinct], build)


def accepted_values(table: ir.Table, name: str, column: str, values: list[Any],
                    severity: Severity = "error") -> Check:
    shown = ", ".join(map(str, values[:5])) + (", ..." if len(values) > 5 else "")
    return _guard(f"accepted_values({column} in [{shown}])", name, severity, table, [column],
                  lambda: table.filter(table[column].notin(values)))


def relationships(table: ir.Table, name: str, column: str, parent: ir.Table, parent_name: str, field: str,
                  severity: Severity = "error") -> Check:
    """Child rows whose non-NULL `column` has no row in the parent (orphans)."""
    check_name = f"relationships({column} -> {parent_name}.{field})"
    if field not in parent.columns:
        return Check(check_name, name, None, severity,
                     problem=f"column {field!r} not in {parent_name}; it has {list(parent.columns)}")

    def build() -> ir.Table:
        keys = parent.select(_key=parent[field]).distinct()
        child = table.filter(table[column].notnull())
        return child.anti_join(keys, child[column] == keys._key)
    return _guard(check_name, name, severity, table, [column], build)


def value_range(table: ir.Table, name: str, column: str, min: float | None = None, max: float | None = None,
                severity: Severity = "error") -> Check:
    def build() -> ir.Table:
        col = table[column]
        preds = ([col < min] if min is not None else []) + ([col > max] if max is not None else [])
        return table.filter(ibis.or_(*preds))
    bounds = f"{'' if min is None else f'>= {min:g}'}{' and ' if min is not None and max is not None else ''}" \
             f"{'' if max is None else f'<= {max:g}'}"
    return _guard(f"range({column} {bounds})", name, severity, table, [column], build)


def non_negative(table: ir.Table, name: str, column: str, severity: Severity = "error") -> Check:
    return value_range(table, name, column, min=0, severity=severity)


def not_nan(table: ir.Table, name: str, column: str, severity: Severity = "error") -> Check:
    def build() -> ir.Table:
        col = table[column]
        return table.filter(col.isnull() | col.isnan() | col.isinf())
    return _guard(f"finite({column})", name, severity, table, [column], build)


def expression(table: ir.Table, name: str, sql_condition: str, wh_sql: Callable[[str], ir.Table],
               label: str | None = None, severity: Severity = "error") -> Check:
    """Rows for which a SQL condition is false (NULL passes, as dbt's expression_is_true).

    The condition is SQL, so it is compiled by the warehouse, not by Ibis: `wh_sql` turns a
    `SELECT` over the table into an Ibis table, which keeps counting and sampling uniform.
    """
    check_name = label or f"expression({sql_condition})"
    try:
        failing = wh_sql(f"NOT ({sql_condition})")
    except Exception as exc:  # noqa: BLE001 - a broken condition is the check's error status
        return Check(check_name, name, None, severity, problem=f"{type(exc).__name__}: {exc}".splitlines()[0])
    return Check(check_name, name, failing, severity)


def row_count(table: ir.Table, name: str, min: int = 1, max_drop_pct: float | None = None,
              previous: int | None = None, severity: Severity = "error") -> Check:
    """Fewer than `min` rows, or fewer than `previous * (1 - max_drop_pct/100)`."""
    n = table.count()
    floor = float(min)
    label = f"row_count(>= {min}"
    if max_drop_pct is not None:
        label += f", drop <= {max_drop_pct:g}%"
        if previous is not None:
            floor = max(floor, previous * (1 - max_drop_pct / 100))
            label += f" of {previous:,}"
    label += ")"
    summary = table.aggregate(rows=n).mutate(floor=ibis.literal(floor))
    remedy = ("If the smaller table is expected (a smaller delivery), set quality.row_count_max_drop_pct "
              "(or max_drop_pct of this table's row_count under checks:) in martops.yml to a larger "
              "percentage" if floor > min else
              "If fewer rows are expected, lower quality.row_count_min (or min of this table's row_count "
              "under checks:) in martops.yml")
    return Check(label, name, summary.filter(summary.rows < summary.floor), severity, observed=n, remedy=remedy + ".")


def freshness(table: ir.Table, name: str, column: str, after_hours: float, now: dt.datetime,
              severity: Severity) -> Check:
    """One failing row when the newest `column` is older than `after_hours` (or the table is empty)."""
    def build() -> tuple[ir.Table, ir.Scalar]:
        agg = table.aggregate(latest=table[column].max())
        agg = agg.mutate(age_hours=(ibis.literal(now).epoch_seconds() - agg.latest.epoch_seconds()) / 3600.0,
                         limit_hours=ibis.literal(after_hours))
        return agg.filter(agg.latest.isnull() | (agg.age_hours > after_hours)), agg.age_hours.max()
    return _guard(f"freshness({column} within {after_hours:g}h)", name, severity, table, [column], build)


def monotonic_funnel(table: ir.Table, name: str, columns: list[str], severity: Severity = "error") -> Check:
    """Rows where a funnel step exceeds the step before it (NULL steps are skipped)."""
    def build() -> ir.Table:
        preds = [table[b] > table[a] for a, b in zip(columns, columns[1:])]
        return table.filter(ibis.or_(*preds))
    return _guard(f"monotonic_funnel({' >= '.join(columns)})", name, severity, table, columns, build)


def sums_to(table: ir.Table, name: str, *, group_by: list[str], column: str, value: float = 1.0,
            tolerance: float = 1e-9, severity: Severity = "error") -> Check:
    """Groups whose `column` does not sum to `value` (e.g. credit per conversion sums to 1)."""
    def build() -> ir.Table:
        g = table.group_by(group_by).aggregate(total=table[column].sum(), rows=table.count())
        return g.filter((g.total - value).abs() > tolerance)
    return _guard(f"sums_to_{value:g}({column} by {', '.join(group_by)})", name, severity, table,
                  [*group_by, column], build)

