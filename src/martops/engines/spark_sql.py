"""Spark SQL text martops writes itself: literals for `?` placeholders (Spark binds no values into
the DELETE/UPDATE it rewrites), and names read back from a parsed statement."""

from __future__ import annotations

from typing import Any

import sqlglot.expressions as sge


def text(value: str) -> str:
    """A Spark SQL string literal (Spark reads backslash escapes in literals)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def literal(value: Any) -> str:
    """A Python value as a Spark SQL literal, for `?` placeholders."""
    import datetime as dt
    import decimal
    import math

    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return f"CAST('{value}' AS DOUBLE)"
        return repr(value) + "D"
    if isinstance(value, decimal.Decimal):
        return f"{value}BD"
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP'{value.isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"DATE'{value.isoformat()}'"
    return text(str(value))


def bind(sql: str, params: list[Any]) -> str:
    """`sql` with each `?` outside quotes replaced by the next value as a literal."""
    if not params:
        return sql
    out, quote, values = [], None, iter(params)
    for ch in sql:
        if quote:
            quote = None if ch == quote else quote
            out.append(ch)
        elif ch in "'\"`":
            quote = ch
            out.append(ch)
        elif ch == "?":
            out.append(literal(next(values)))
        else:
            out.append(ch)
    return "".join(out)


def table_name(t: Any) -> str:
    """`schema.table` of a sqlglot table."""
    return f"{t.db}.{t.name}" if t.db else t.name


def column_name(e: Any) -> str:
    """The column an UPDATE's SET assigns to."""
    return e.name if isinstance(e, sge.Column) else e.sql("spark").strip("`")
