"""What every warehouse engine shares: naming, reading, the transaction, and the write primitives
the steps use (replace a range, upsert, create-or-replace), written once over a few engine hooks.

Two Ibis backends live in a warehouse: `backend`, where the tables are and transformations run,
and `loader`, the in-process DuckDB that reads and types sources (one parser on every engine). On
DuckDB they are the same connection. An expression runs where its tables are: one over warehouse
tables runs in the warehouse, one over source tables or in-memory rows runs in the loader, and
writing the latter into a warehouse table is a bulk load (`_bulk_insert`).
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any, Callable, Iterator

import ibis
import ibis.common.exceptions
import ibis.expr.types as ir
import sqlglot as sg

from martops import interrupts
from martops.errors import StepError

log = logging.getLogger(__name__)

SCHEMAS = ("staging", "attribution", "snapshots", "marts", "ops", "crm", "loyalty", "leads")


class Rows:
    """Rows already fetched, with the part of a DB-API cursor's interface `Warehouse` reads
    (`description`, `rowcount`, `fetchall`, `fetchmany`): for an engine whose driver has no cursor
    or whose statement had to be read at once."""

    def __init__(self, description: Any, rows: list[tuple] | None, rowcount: int | None = None):
        self.description, self._rows = description, rows or []
        self.rowcount = len(self._rows) if rowcount is None else rowcount

    def fetchall(self) -> list[tuple]:
        rows, self._rows = self._rows, []
        return rows

    def fetchmany(self, n: int) -> list[tuple]:
        rows, self._rows = self._rows[:n], self._rows[n:]
        return rows


class Warehouse:
    """An open warehouse. Subclasses set the capabilities and implement the hooks marked so."""

    engine = "?"
    """'duckdb', 'postgres' or 'spark': for messages and the run log, never for branching in a domain."""
    dialect = "duckdb"
    """sqlglot dialect of `backend`'s SQL."""
    supports_schemas = True
    supports_transactions = True
    separate_loader = False
    """Whether sources are read in a DuckDB of their own (then loaded in bulk into the warehouse)."""
    uses_indexes = False
    """Whether the tables get the indexes their domain declares (PostgreSQL). DuckDB's min-max
    zone maps already serve range filters; an ART index would slow every replace and live in memory."""
    last_opened: str | None = None
    """How messages name the warehouse this process opened last (user@host:port/db, never a
    password): the CLI's boundary names it in an error the engine raised without saying where."""
    query_errors: tuple[type[BaseException], ...] = ()
    """The engine's errors for a statement it refused (bad SQL a person typed, a write in read-only)."""

    def __init__(self, backend: ibis.BaseBackend, location: str, *, read_only: bool = False,
                 reading_copy: Any = None):
        self.backend = backend
        self.location = location
        Warehouse.last_opened = location
        self.read_only = read_only
        self.reading_copy = reading_copy  # set when another process held the write lock: the copy read instead
        self._in_tx = False
        self._keepers: dict[str, Any] = {}

    # -- hooks ------------------------------------------------------------------------------
    @property
    def loader(self) -> ibis.BaseBackend:
        """The DuckDB backend that reads sources (hook)."""
        raise NotImplementedError

    def _cursor_execute(self, sql: str, params: list[Any]) -> Any:
        """Run one statement on the warehouse; a DB-API cursor (hook)."""
        raise NotImplementedError

    def _person_execute(self, sql: str, limit: int | None = None) -> Any:
        """Run SQL a person typed (`martops sql`); a cursor (`limit`: the rows the caller will read,
        for an engine that must fetch them at once)."""
        return self._cursor_execute(sql, [])

    def _affected(self, cursor: Any) -> int:
        """Rows an INSERT/UPDATE/DELETE touched (hook)."""
        raise NotImplementedError

    def _bulk_insert(self, name: str, expr: ir.Table) -> int:
        """Load `expr`, computed in the loader, into the warehouse table `name` (hook)."""
        raise NotImplementedError

    def seal(self) -> None:
        """No files or other databases reachable from SQL a person types (`martops sql`) (hook)."""

    def save_rows(self, sql: str, params: list[Any], path: Any) -> None:
        """Write the rows of a warehouse query (`?` placeholders) to the Parquet file `path` (hook)."""
        raise NotImplementedError

    def relations(self) -> list[tuple[str, str, int]]:
        """Every table and view as (`schema.table`, 'table'|'view', column count), sorted (hook)."""
        raise NotImplementedError

    def _interrupted(self, exc: BaseException) -> bool:
        """Whether `exc` is the engine's "the query was cancelled" (Ctrl-C) error."""
        return False

    def files_folder(self, kind: str) -> Path | None:
        """Where files a domain keeps with this warehouse's tables go (`kind`: e.g. 'lead-models'),
        so two warehouses never share them; None when the warehouse lives on a server or in memory
        (the caller picks a folder of the project then) (hook)."""
        return None

    # -- naming -----------------------------------------------------------------------------
    @staticmethod
    def _split(name: str) -> tuple[str | None, str]:
        schema, _, table = name.rpartition(".")
        return (schema or None), table

    def quoted(self, name: str) -> str:
        schema, table = self._split(name)
        return sg.table(table, db=schema, quoted=True).sql(self.dialect)

    def ident(self, column: str) -> str:
        return sg.to_identifier(column, quoted=True).sql(self.dialect)

    # -- where an expression runs -----------------------------------------------------------
    def _home(self, expr: ir.Expr) -> ibis.BaseBackend:
        """The backend holding `expr`'s tables: the warehouse's, else the loader (source tables and
        in-memory rows). An expression joining both is a martops bug: bring one side over first
        (`to_loader`)."""
        backends, _ = expr._find_backends()
        if not backends or all(b is self.loader for b in backends):
            return self.loader
        if all(b is self.backend for b in backends):
            return self.backend
        raise RuntimeError("an expression mixes warehouse tables and source tables; "  # pragma: no cover
                           "bring one side over with Warehouse.to_loader first")

    def in_warehouse(self, expr: ir.Expr) -> bool:
        return self._home(expr) is self.backend

    def to_loader(self, expr: ir.Table) -> ir.Table:
        """`expr`'s rows where source tables can join them (the same expression on DuckDB; an
        in-memory copy otherwise: for small lookup tables, such as exchange rates)."""
        if self._home(expr) is self.loader:
            return expr
        return ibis.memtable(self.to_pyarrow(expr))

    # -- reading ----------------------------------------------------------------------------
    def table(self, name: str) -> ir.Table:
        """The table `schema.table`; StepError naming it when the warehouse does not have it yet."""
        schema, table = self._split(name)
        try:
            return self.backend.table(table, database=schema)
        except ibis.common.exceptions.TableNotFound:
            raise StepError(f"{name} is not in the warehouse {self.location} yet: run the step that builds it "
                            "first (see the README's step tables), or check --warehouse") from None

    def exists(self, name: str) -> bool:
        schema, table = self._split(name)
        return table in self.backend.list_tables(database=schema)

    def compile(self, expr: ir.Expr) -> str:
        """SQL for `expr` in its home backend's dialect; registers any in-memory tables it uses."""
        home = self._home(expr)
        home._run_pre_execute_hooks(expr)
        return str(home.compile(expr))

    def execute(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        """Run SQL on the warehouse (`?` placeholders); its rows, or [(affected,)] for DML."""
        log.debug("SQL: %s %s", sql, params or "")
        cur = self._cursor_execute(sql, params or [])
        if cur.description is None:
            return [(self._affected(cur),)]
        return cur.fetchall()

    def records(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        """The rows of a warehouse query (`?` placeholders) as dicts by column name."""
        log.debug("SQL: %s %s", sql, params or "")
        cur = self._cursor_execute(sql, params or [])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    def query(self, sql: str, limit: int | None = None) -> tuple[list[str], list[tuple], bool]:
        """Run SQL a person typed: (column names, the first `limit` rows (all when None), whether more
        rows followed). A statement that returns no rows gives ([], [], False)."""
        log.debug("SQL: %s", sql)
        cur = self._person_execute(sql, None if limit is None else limit + 1)
        if cur.description is None:
            return [], [], False
        columns = [d[0] for d in cur.description]
        if limit is None:
            return columns, cur.fetchall(), False
        rows = cur.fetchmany(limit + 1)
        return columns, rows[:limit], len(rows) > limit

    def scalar(self, expr: ir.Expr) -> Any:
        return self._home(expr).execute(expr)

    def to_pyarrow(self, expr: ir.Expr):
        return self._home(expr).to_pyarrow(expr)

    # -- the transaction --------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all (a failed step leaves no trace)."""
        if self._in_tx:
            yield
            return
        self._begin()
        self._in_tx, self._keepers = True, {}
        try:
            yield
        except BaseException as exc:
            keepers, self._keepers = list(self._keepers.values()), {}
            for keeper in keepers:
                keeper.before_rollback(exc)
            self._rollback()
            self._in_tx = False
            for keeper in keepers:
                keeper.after_rollback(exc)
            raise
        else:
            self._keepers = {}
            with interrupts.deferred():  # a COMMIT is never cut: the step is written whole or not at all
                self._commit()
        finally:
            self._in_tx = False

    def _begin(self) -> None:
        self.execute("BEGIN TRANSACTION")

    def _commit(self) -> None:
        self.execute("COMMIT")

    def _rollback(self) -> None:
        self.after_interrupt("ROLLBACK")

    @property
    def in_transaction(self) -> bool:
        return self._in_tx

    def keeper(self, name: str, factory: Callable[[], Any]) -> Any:
        """Inside a transaction: the object registered as `name` (made by `factory` the first time),
        whose `before_rollback(exc)` runs just before a ROLLBACK and `after_rollback(exc)` just
        after it, outside any transaction. This is how `ops.quarantine` keeps the rows that explain
        a failed load; both must not raise."""
        if not self._in_tx:
            raise RuntimeError("Warehouse.keeper() outside a transaction")  # pragma: no cover - a martops bug
        if name not in self._keepers:
            self._keepers[name] = factory()
        return self._keepers[name]

    def after_interrupt(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        """Run a clean-up statement (ROLLBACK, marking a run failed) even if Ctrl-C's interrupt of
        the connection lands on it: the engine clears the interrupt when the next statement starts."""
        for attempt in range(3):
            try:
                return self.execute(sql, params)
            except Exception as exc:
                if not self._interrupted(exc) or attempt == 2:
                    raise
        return []  # pragma: no cover - the loop returns or raises

    # -- writing ----------------------------------------------------------------------------
    def column_type(self, dtype: Any) -> str:
        return self.backend.compiler.type_mapper.to_string(dtype)

    def ensure_table(self, name: str, schema: ibis.Schema, partition: str | None = None) -> None:
        """Create the table, or add the columns a newer martops writes (additive migration).

        `partition`: the date column whose ranges a step replaces; an engine that stores tables as
        files (Spark) partitions the table by it, the others need nothing for it."""
        if not self.exists(name):
            sch, table = self._split(name)
            self.backend.create_table(table, schema=schema, database=sch)
            return
        have = set(self.table(name).columns)
        for column, dtype in schema.items():
            if column not in have:
                log.info("adding column %s to %s", column, name)
                self.execute(f"ALTER TABLE {self.quoted(name)} ADD COLUMN {self.ident(column)} {self.column_type(dtype)}")

    def insert(self, name: str, expr: ir.Table) -> int:
        """Append `expr`'s rows to the table `name`: in the warehouse when `expr` reads warehouse
        tables, else computed by the loader and loaded in bulk."""
        if self._home(expr) is not self.backend:
            return self._bulk_insert(name, expr)
        cols = ", ".join(self.ident(c) for c in expr.columns)
        sql = f"INSERT INTO {self.quoted(name)} ({cols}) SELECT {cols} FROM ({self.compile(expr)}) AS _src"
        return int(self.execute(sql)[0][0])

    def delete_where(self, name: str, where: str, params: list[Any] | None = None) -> int:
        return int(self.execute(f"DELETE FROM {self.quoted(name)} WHERE {where}", params)[0][0])

    def replace_where(self, name: str, expr: ir.Table, where: str, params: list[Any] | None = None,
                      partition: str | None = None) -> tuple[int, int]:
        """Delete the rows `where` selects, insert `expr`, atomically: re-running a range replaces it
        (`partition`: as `ensure_table`'s, for a table this call creates)."""
        self.ensure_table(name, expr.schema(), partition)
        with self.transaction():
            deleted = self.delete_where(name, where, params)
            inserted = self.insert(name, expr)
        return deleted, inserted

    def materialize(self, expr: ir.Table, name: str) -> ir.Table:
        """`expr` computed once into a temporary table (gone when the connection closes), where
        `expr` runs (warehouse or loader).

        For an intermediate result several queries read: Ibis compiles and the engine plans a deep
        expression again for every query, which costs more than the rows on small inputs.
        """
        return self._home(expr).create_table(name, expr, temp=True, overwrite=True)

    def upsert(self, name: str, expr: ir.Table, key: list[str]) -> tuple[int, int]:
        """Replace the rows whose `key` appears in `expr`, keep every other row (caller's transaction)."""
        self.ensure_table(name, expr.schema())
        if self._home(expr) is not self.backend:
            expr = self.stage(expr, "_upsert_rows")
        cols = ", ".join(self.ident(c) for c in key)
        keys = self.compile(expr.select(*key).distinct())
        deleted = self.delete_where(name, f"({cols}) IN (SELECT {cols} FROM ({keys}) AS _keys)")
        return deleted, self.insert(name, expr)

    def stage(self, expr: ir.Table, name: str) -> ir.Table:
        """`expr`'s rows in a temporary warehouse table (loaded in bulk when `expr` runs in the
        loader), for warehouse queries to read."""
        if self._home(expr) is self.backend:
            return self.materialize(expr, name)
        self.execute(f"DROP TABLE IF EXISTS {self.quoted(name)}")
        self.backend.create_table(name, schema=expr.schema(), temp=True)
        self._bulk_insert(name, expr)
        return self.backend.table(name)

    def create_or_replace(self, name: str, expr: ir.Table) -> int:
        """Replace the table with `expr`'s rows, typed as Ibis types them (a `CREATE TABLE AS` would
        keep what the SQL happens to return, e.g. a TIMESTAMP for date arithmetic)."""
        self.execute(f"DROP TABLE IF EXISTS {self.quoted(name)}")
        self.ensure_table(name, expr.schema())
        return self.insert(name, expr)

    def count(self, name: str) -> int:
        return int(self.execute(f"SELECT count(*) FROM {self.quoted(name)}")[0][0])

    def create_index(self, name: str, columns: tuple[str, ...]) -> None:
        """An index on `columns` of the table `name` (kept if it exists): the domain's declared
        indexes on reporting tables."""
        schema, table = self._split(name)
        index = sg.to_identifier(f"{table}__{'_'.join(columns)}"[:60], quoted=True).sql(self.dialect)
        cols = ", ".join(self.ident(c) for c in columns)
        self.execute(f"CREATE INDEX IF NOT EXISTS {index} ON {self.quoted(name)} ({cols})")

    # -- sources (the loader) -----------------------------------------------------------------
    def loader_execute(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        """Run SQL in the loader (attached sources, PRAGMAs); its rows."""
        log.debug("loader SQL: %s %s", sql, params or "")
        return self.loader.con.execute(sql, params or []).fetchall()

    @contextlib.contextmanager
    def loader_transaction(self) -> Iterator[None]:
        """One transaction over what is attached to the loader (a SQLite file written back)."""
        if self.loader is self.backend:
            with self.transaction():
                yield
            return
        con = self.loader.con
        con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            con.execute("ROLLBACK")
            raise
        with interrupts.deferred():
            con.execute("COMMIT")

    def loader_sql(self, sql: str) -> ir.Table:
        """A loader query as an Ibis table (a source read)."""
        return self.loader.sql(sql, dialect="duckdb")

    def close(self) -> None:
        self.backend.disconnect()
        if self.reading_copy is not None:
            self.reading_copy.remove()

    def __enter__(self) -> "Warehouse":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
