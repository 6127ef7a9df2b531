"""`martops tables`, `sql` and `show`: look inside the warehouse without a DuckDB client.

All three open the warehouse read-only (they work while a pipeline runs, and cannot change it);
`sql` also turns off DuckDB's access to files and other databases, so a typed query can only read.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from martops.cli.common import CONFIG, WAREHOUSE, open_warehouse
from martops.cli.render import WarningSummary, console, fitted_table
from martops.engine import Warehouse
from martops.errors import ConfigError, MartopsError

FORMATS = ("table", "csv")
FORMAT_HELP = "table (fits the terminal; columns that do not fit are named below it) or csv (every column, to stdout)."


def tables(warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG) -> None:
    """List every table and view of the warehouse: schema, name, kind, rows, columns.

    Example:

      martops tables --warehouse out/warehouse.duckdb
    """
    _, wh = open_warehouse(config, warehouse, read_only=True)
    with wh:
        found = [(name, kind, ncol, wh.count(name) if kind == "table" else None) for name, kind, ncol in wh.relations()]
    if not found:
        from martops.engine import BUILD_HINT

        console.print(f"{wh.location} holds no tables yet; {BUILD_HINT}")
        return
    rows = [[*name.split(".", 1), kind, "" if n is None else f"{n:,}", str(ncol)] for name, kind, ncol, n in found]
    table, _ = fitted_table(f"Tables in {wh.location}", ["schema", "table", "kind", "rows", "columns"], rows,
                            right={"rows", "columns"}, keep=2)
    console.print(table)
    views = sum(k == "view" for _, k, _, _ in found)
    console.print(f"{len(found) - views:,} table(s), {views:,} view(s) (a view's rows are counted when it is read: "
                  "`martops show SCHEMA.VIEW`)", highlight=False)


def sql(
    query: str = typer.Argument(..., help="One SQL query, e.g. \"SELECT * FROM marts.channel_reporting\"."),
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
    limit: int = typer.Option(100, "--limit", "-n", min=0, help="Rows to print (0: all)."),
    warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG,
) -> None:
    """Run a read-only SQL query on the warehouse (in its engine's dialect: DuckDB or PostgreSQL) and print its rows.

    The warehouse is opened read-only (DuckDB: also without access to files or other databases;
    PostgreSQL: a read-only session, one statement at a time), so a statement that writes (INSERT,
    CREATE, COPY ... TO, ATTACH) is refused with a one-line error.

    Example:

      martops sql "SELECT channel_name, sum(ihc) FROM marts.channel_reporting GROUP BY ALL" --format csv
    """
    _check_format(fmt)
    if not query.strip():
        raise ConfigError("the query is empty; give one SQL query, e.g. martops sql \"SELECT 1\"")
    _, wh = open_warehouse(config, warehouse, read_only=True)
    with wh:
        wh.seal()
        try:
            columns, rows, more = wh.query(query, limit or None)
        except wh.query_errors as exc:
            raise MartopsError(_sql_error(exc)) from None
    if not columns:
        console.print("the statement ran and returned no rows")
        return
    _print(columns, rows, fmt, "Query result", more, limit)


def show(
    table: str = typer.Argument(..., help="A table or view: schema.table, or the bare name when one schema has it."),
    limit: int = typer.Option(20, "--limit", "-n", min=0, help="Rows to print (0: all)."),
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
    warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG,
) -> None:
    """Print the first rows of a warehouse table or view. An unknown name is an error listing close matches.

    Example:

      martops show marts.channel_reporting --limit 10
    """
    _check_format(fmt)
    _, wh = open_warehouse(config, warehouse, read_only=True)
    with wh:
        name = resolve(wh, table)
        total = wh.count(name)
        columns, rows, more = wh.query(f"SELECT * FROM {wh.quoted(name)}", limit or None)
    title = f"{name}: {total:,} rows" + (f", the first {len(rows):,}" if more else "")
    _print(columns, rows, fmt, title, more, limit)


def resolve(wh: Warehouse, given: str) -> str:
    """`schema.table` for `given` (exact, or a bare name one schema has, any case); ConfigError
    naming the closest names of the warehouse otherwise."""
    names = [n for n, _, _ in wh.relations()]
    by_lower = {n.lower(): n for n in names}
    if given.lower() in by_lower:
        return by_lower[given.lower()]
    bare = [n for n in names if n.split(".", 1)[1].lower() == given.lower()]
    if len(bare) == 1:
        return bare[0]
    if len(bare) > 1:
        raise ConfigError(f"table {given!r} is in several schemas: {', '.join(bare)}; give schema.table")
    keys = {**{n.split(".", 1)[1].lower(): n for n in names}, **by_lower}  # bare and full names
    close = list(dict.fromkeys(keys[k] for k in difflib.get_close_matches(given.lower(), list(keys), n=6, cutoff=0.6)))
    hint = (f"close matches: {', '.join(close[:4])}" if close
            else f"it has {len(names):,} tables and views (see `martops tables`)")
    raise ConfigError(f"no table {given!r} in the warehouse {wh.location}; {hint}")


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt!r} is not a format; choose one of {', '.join(FORMATS)}")


def _sql_error(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    if "multiple commands" in text:  # PostgreSQL: one prepared statement, so nothing can lift read-only
        return ("martops sql only reads: the warehouse is opened read-only, so this statement was refused "
                "(give one statement at a time; this text holds several)")
    if "read-only mode" in text or "read-only transaction" in text:
        return f"martops sql only reads: the warehouse is opened read-only, so this statement was refused ({text})"
    if "external access" in text.lower() or "disabled by configuration" in text.lower():
        return f"martops sql only reads the warehouse: files and other databases are not reachable ({text})"
    return f"sql: {text}"


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _print(columns: list[str], rows: list[tuple], fmt: str, title: str, more: bool, limit: int) -> None:
    if fmt == "csv":
        WarningSummary.data_on_stdout = True
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(columns)
        w.writerows([[_text(v) for v in r] for r in rows])
        if more:
            print(f"note: only the first {limit:,} rows; --limit 0 prints all", file=sys.stderr)
        return
    numeric = {c for i, c in enumerate(columns)
               if rows and all(isinstance(r[i], (int, float)) or r[i] is None for r in rows)}
    table, left_out = fitted_table(title, [escape(c) for c in columns], [[escape(_text(v)) for v in r] for r in rows],
                                   right={escape(c) for c in numeric})
    console.print(table)
    if more:
        console.print(f"only the first {limit:,} rows; --limit 0 prints all", highlight=False)
    if left_out:
        console.print(f"{len(left_out)} column(s) left out at this width: {', '.join(left_out)} "
                      "(--format csv prints every column)", highlight=False)
