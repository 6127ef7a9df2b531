"""What Ibis 12's PySpark compiler leaves out and martops' expressions use, filled in once here so
domains write one expression for every engine (as `postgres._patch_compiler` does for PostgreSQL).

- `group_concat(sep, order_by=...)`: Ibis refuses an ordered string aggregation on Spark. Spark
  has no `string_agg ... ORDER BY`, but collects (key..., value) structs, sorts them (a struct
  sorts by its fields in order) and joins the values: the same text as DuckDB's
  `string_agg(v, sep ORDER BY k)`, NULL values skipped, NULL for a group with none. Ascending keys
  only (what martops uses); a NULL key sorts first on Spark (last on DuckDB).
- `bit_or`/`bit_and`/`bit_xor` aggregates (Shapley's coalition masks): Spark has the same
  functions; Ibis 12 compiles them for DuckDB only.
"""

from __future__ import annotations

import sqlglot as sg
import sqlglot.expressions as sge


def _ordered_group_concat(self, op, *, arg, sep, where, order_by):  # noqa: ANN001, ANN202 - Ibis's visitor
    import ibis.common.exceptions as com

    keys = []
    for key in order_by:
        if isinstance(key, sge.Ordered):
            if key.args.get("desc"):
                raise com.UnsupportedOperationError("a descending order_by in group_concat is not supported on Spark")
            key = key.this
        keys.append(key.sql("spark"))
    value = arg.sql("spark")
    fields = ", ".join([f"'k{i}', {k}" for i, k in enumerate(keys)] + [f"'v', {value}"])
    cond = f"({value}) IS NOT NULL" + (f" AND ({where.sql('spark')})" if where is not None else "")
    items = f"collect_list(CASE WHEN {cond} THEN named_struct({fields}) END)"
    return sg.parse_one(f"CASE WHEN size({items}) = 0 THEN NULL "
                        f"ELSE array_join(transform(array_sort({items}), x -> x.v), {sep.sql('spark')}) END",
                        read="spark")


def patch() -> None:
    from ibis.backends.sql.compilers.pyspark import PySparkCompiler as C

    original = C.visit_GroupConcat
    if getattr(original, "martops", False):
        return

    def visit_GroupConcat(self, op, *, arg, sep, where, order_by):  # noqa: ANN001, ANN202
        if not order_by:
            return original(self, op, arg=arg, sep=sep, where=where, order_by=order_by)
        return _ordered_group_concat(self, op, arg=arg, sep=sep, where=where, order_by=order_by)

    visit_GroupConcat.martops = True  # type: ignore[attr-defined]
    C.visit_GroupConcat = visit_GroupConcat
    for op_name, func in (("BitOr", "bit_or"), ("BitAnd", "bit_and"), ("BitXor", "bit_xor")):
        setattr(C, f"visit_{op_name}", _bit_aggregate(func))


def _bit_aggregate(func: str):  # noqa: ANN202
    def visit(self, op, *, arg, where):  # noqa: ANN001, ANN202 - Ibis's visitor
        return self.agg[func](arg, where=where)
    return visit
