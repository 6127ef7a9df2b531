"""Parity of two martops warehouses: the same input run on two engines (DuckDB, PostgreSQL) must
leave the same tables.

`differences(a, b)` compares every table and view both warehouses hold: the same column names in
the same order, the same kind of type (an integer may be narrower on one engine: PostgreSQL has no
1-byte integer), and the same rows, order-independently, floats within `rel` relative tolerance.
Columns that record when or by which invocation a row was written (`VOLATILE`) differ between any
two runs and are left out; `ignore` replaces that set, naming a `column` (of every table) or a
`schema.table.column`. It returns readable lines, empty when the warehouses agree; `assert_same`
fails with them. Both take open `martops.engine.Warehouse` objects, e.g.
`connect(path=location, read_only=True)`, so any domain's tables can be compared.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from typing import Any, Iterable

VOLATILE = frozenset({
    # the invocation that wrote a row: a fresh id per run
    "run_id", "_run_id", "_load_id",
    # wall-clock times of a run (snapshots' valid_from/valid_to are load times too: ignore them per test)
    "_loaded_at", "_etl_loaded_at", "loaded_at", "started_at", "ended_at", "logged_at", "checked_at", "quarantined_at",
    "built_at", "created_at", "updated_at", "snapshot_at", "scored_at", "answered_at", "recorded_at",
    # the process that ran a step (ops.runs)
    "pid", "host",
})
"""Columns that say when, or by which process, a row was written: never equal across two runs."""


def _family(dtype: Any) -> str:
    """The kind of an Ibis type, ignoring width and nullability (int8 on DuckDB is int16 on PostgreSQL)."""
    for kind in ("integer", "floating", "decimal", "string", "boolean", "timestamp", "date", "time", "binary"):
        if getattr(dtype, f"is_{kind}")():
            return "number" if kind in ("floating", "decimal") else kind
    return str(dtype)


def _value(v: Any) -> Any:
    return float(v) if isinstance(v, decimal.Decimal) else v


def _sort_key(row: tuple) -> tuple:
    """Exact values first, floats last, so rows equal but for float noise sort next to each other;
    None before any value; NaN after every number."""
    exact = [(0,) if v is None else (1, v) for v in row if not isinstance(v, float)]
    floats = [(0,) if v is None else (2,) if math.isnan(v) else (1, v) for v in row if isinstance(v, float)]
    return (*exact, *floats)


def _same(x: Any, y: Any, rel: float) -> bool:
    if isinstance(x, float) and isinstance(y, float):
        if math.isnan(x) or math.isnan(y):
            return math.isnan(x) and math.isnan(y)
        return math.isclose(x, y, rel_tol=rel, abs_tol=rel)
    if isinstance(x, float) or isinstance(y, float):  # an integer on one side: compare as numbers
        return x is not None and y is not None and math.isclose(float(x), float(y), rel_tol=rel, abs_tol=rel)
    return x == y


def _rows(wh: Any, name: str, columns: list[str]) -> list[tuple]:
    t = wh.table(name).select(*columns)
    rows = [tuple(_value(r[c]) for c in columns) for r in wh.to_pyarrow(t).to_pylist()]
    return sorted(rows, key=_sort_key)


def _show(row: Iterable[Any]) -> str:
    return "(" + ", ".join(v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else repr(v) for v in row) + ")"


def relations(wh: Any) -> set[str]:
    """`schema.table` of every table and view `wh` holds."""
    return {name for name, _kind, _ncols in wh.relations()}


def snapshot(wh: Any, *, skip: Iterable[str] = ()) -> dict[str, list[tuple]]:
    """Every row of every table and view of `wh` (but `skip`), sorted: to compare a warehouse with
    itself before and after something that must not change it."""
    return {name: _rows(wh, name, list(wh.table(name).columns)) for name in sorted(relations(wh) - set(skip))}


def compare_table(a: Any, b: Any, name: str, *, ignore: frozenset[str] = VOLATILE, rel: float = 1e-9,
                  examples: int = 3) -> list[str]:
    """How the table (or view) `name` differs between the warehouses `a` and `b`; [] when it does not."""
    sa, sb = a.table(name).schema(), b.table(name).schema()
    if list(sa.names) != list(sb.names):
        return [f"{name}: columns differ: {list(sa.names)} vs {list(sb.names)}"]
    problems = [f"{name}.{c}: type {sa[c]} vs {sb[c]}" for c in sa.names if _family(sa[c]) != _family(sb[c])]
    columns = [c for c in sa.names if c not in ignore and f"{name}.{c}" not in ignore]
    ra, rb = _rows(a, name, columns), _rows(b, name, columns)
    if len(ra) != len(rb):
        return problems + [f"{name}: {len(ra)} rows vs {len(rb)}"]
    bad = [(x, y) for x, y in zip(ra, rb) if not all(_same(u, v, rel) for u, v in zip(x, y))]
    if bad:
        shown = "; ".join(f"{_show(x)} vs {_show(y)}" for x, y in bad[:examples])
        problems.append(f"{name}: {len(bad)} of {len(ra)} rows differ (columns {columns}), e.g. {shown}")
    return problems


def differences(a: Any, b: Any, *, tables: Iterable[str] | None = None, ignore: frozenset[str] = VOLATILE,
                rel: float = 1e-9) -> list[str]:
    """Every difference between the tables both `a` and `b` hold (or `tables`), plus a line for
    the tables only one of them holds (not with `tables`)."""
    problems = []
    if tables is None:
        ha, hb = relations(a), relations(b)
        if ha - hb:
            problems.append(f"only in {a.location}: {sorted(ha - hb)}")
        if hb - ha:
            problems.append(f"only in {b.location}: {sorted(hb - ha)}")
        tables = sorted(ha & hb)
    for name in tables:
        problems += compare_table(a, b, name, ignore=ignore, rel=rel)
    return problems


def assert_same(a: Any, b: Any, **kw: Any) -> None:
    problems = differences(a, b, **kw)
    assert not problems, "the warehouses differ:\n" + "\n".join(problems)
