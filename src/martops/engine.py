"""The engine layer: `connect()` gives a `Warehouse` around an Ibis backend.

Business logic builds Ibis expressions and hands them here to be written; this module owns the
SQL of writing (atomic replace of a range, create-or-replace) so that engine differences stay in
one place and are expressed as capabilities (`supports_schemas`, ...), never as isinstance checks.
"""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import duckdb
import ibis
import ibis.common.exceptions
import ibis.expr.types as ir
import sqlglot as sg
from ibis.backends.sql.datatypes import DuckDBType

from martops import interrupts
from martops.config import WarehouseConfig
from martops.errors import ConfigError, MartopsError, SourceError, StepError

log = logging.getLogger(__name__)

SCHEMAS = ("staging", "attribution", "snapshots", "marts", "ops", "crm")


def _extension_file(name: str) -> Path:
    """DuckDB cannot download extensions offline; the pinned wheel carries the binary."""
    import importlib

    module = importlib.import_module(f"duckdb_extension_{name}")
    path = Path(module.__file__).parent / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not path.exists():
        raise MartopsError(
            f"DuckDB extension {name} for DuckDB {duckdb.__version__} not found at {path}; "
            f"reinstall from the lock (make setup) so duckdb-extension-{name.replace('_', '-')} "
            f"matches duckdb=={duckdb.__version__}"
        )
    return path


class Warehouse:
    """An open warehouse: the Ibis backend plus the few write primitives the steps need."""

    supports_schemas = True
    supports_transactions = True
    dialect = "duckdb"

    def __init__(self, backend: ibis.BaseBackend, location: str, *, read_only: bool = False,
                 reading_copy: Any = None):
        self.backend = backend
        self.location = location
        self.read_only = read_only
        self.reading_copy = reading_copy  # set when another process held the write lock: the copy read instead
        self._raw = backend.con  # the DuckDB connection, for transactions and ATTACH
        self._loaded: set[str] = set()
        self._in_tx = False
        self._keepers: dict[str, Any] = {}
        interrupts.register(self._raw)  # Ctrl-C stops a running query at once (see interrupts)
        self._raw.execute("SET enable_progress_bar = false")  # rich draws ours; DuckDB's would garble it
        if not read_only:
            for schema in SCHEMAS:
                self.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")

    # -- naming -----------------------------------------------------------------------------
    @staticmethod
    def _split(name: str) -> tuple[str | None, str]:
        schema, _, table = name.rpartition(".")
        return (schema or None), table

    def quoted(self, name: str) -> str:
        schema, table = self._split(name)
        return sg.table(table, db=schema, quoted=True).sql(self.dialect)

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
        """SQL for `expr`; registers any in-memory tables it uses so the SQL can run."""
        self.backend._run_pre_execute_hooks(expr)
        return str(self.backend.compile(expr))

    def execute(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        log.debug("SQL: %s %s", sql, params or "")
        return self._raw.execute(sql, params or []).fetchall()

    def query(self, sql: str, limit: int | None = None) -> tuple[list[str], list[tuple], bool]:
        """Run SQL a person typed: (column names, the first `limit` rows (all when None), whether more
        rows followed). A statement that returns no rows gives ([], [], False). duckdb.Error propagates."""
        log.debug("SQL: %s", sql)
        cur = self._raw.execute(sql)
        if cur.description is None:
            return [], [], False
        columns = [d[0] for d in cur.description]
        if limit is None:
            return columns, cur.fetchall(), False
        rows = cur.fetchmany(limit + 1)
        return columns, rows[:limit], len(rows) > limit

    def relations(self) -> list[tuple[str, str, int]]:
        """Every table and view of the warehouse as (`schema.table`, kind 'table'|'view', column count),
        sorted by name; temporary tables and DuckDB's own catalog views are left out."""
        rows = self.execute(
            "SELECT schema_name || '.' || table_name, 'table', column_count FROM duckdb_tables() "
            "WHERE database_name = current_database() AND NOT temporary "
            "UNION ALL SELECT schema_name || '.' || view_name, 'view', column_count FROM duckdb_views() "
            "WHERE database_name = current_database() AND NOT temporary AND NOT internal ORDER BY 1")
        return [(name, kind, int(n)) for name, kind, n in rows]

    def scalar(self, expr: ir.Expr) -> Any:
        return self.backend.execute(expr)

    def to_pyarrow(self, expr: ir.Table):
        return self.backend.to_pyarrow(expr)

    # -- writing ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all (a failed step leaves no trace)."""
        if self._in_tx:
            yield
            return
        self._raw.execute("BEGIN TRANSACTION")
        self._in_tx, self._keepers = True, {}
        try:
            yield
        except BaseException as exc:
            keepers, self._keepers = list(self._keepers.values()), {}
            for keeper in keepers:
                keeper.before_rollback(exc)
            self.after_interrupt("ROLLBACK")
            self._in_tx = False
            for keeper in keepers:
                keeper.after_rollback(exc)
            raise
        else:
            self._keepers = {}
            with interrupts.deferred():  # a COMMIT is never cut: the step is written whole or not at all
                self._raw.execute("COMMIT")
        finally:
            self._in_tx = False

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
        the connection lands on it: DuckDB clears the interrupt when the next statement starts."""
        for attempt in range(3):
            try:
                return self.execute(sql, params)
            except duckdb.InterruptException:
                if attempt == 2:
                    raise
        return []  # pragma: no cover - the loop returns or raises

    def ensure_table(self, name: str, schema: ibis.Schema) -> None:
        """Create the table, or add the columns a newer martops writes (additive migration)."""
        if not self.exists(name):
            sch, table = self._split(name)
            self.backend.create_table(table, schema=schema, database=sch)
            return
        have = set(self.table(name).columns)
        for column, dtype in schema.items():
            if column not in have:
                log.info("adding column %s to %s", column, name)
                ident = sg.to_identifier(column, quoted=True).sql(self.dialect)
                self.execute(f"ALTER TABLE {self.quoted(name)} ADD COLUMN {ident} {DuckDBType.to_string(dtype)}")

    def insert(self, name: str, expr: ir.Table) -> int:
        cols = ", ".join(sg.to_identifier(c, quoted=True).sql(self.dialect) for c in expr.columns)
        sql = f"INSERT INTO {self.quoted(name)} ({cols}) SELECT {cols} FROM ({self.compile(expr)})"
        rows = self.execute(sql)
        return int(rows[0][0]) if rows else 0

    def delete_where(self, name: str, where: str, params: list[Any] | None = None) -> int:
        rows = self.execute(f"DELETE FROM {self.quoted(name)} WHERE {where}", params)
        return int(rows[0][0]) if rows else 0

    def replace_where(self, name: str, expr: ir.Table, where: str, params: list[Any] | None = None) -> tuple[int, int]:
        """Delete the rows `where` selects, insert `expr`, atomically: re-running a range replaces it."""
        self.ensure_table(name, expr.schema())
        with self.transaction():
            deleted = self.delete_where(name, where, params)
            inserted = self.insert(name, expr)
        return deleted, inserted

    def materialize(self, expr: ir.Table, name: str) -> ir.Table:
        """`expr` computed once into a temporary table (gone when the connection closes).

        For an intermediate result several queries read: Ibis compiles and DuckDB plans a deep
        expression again for every query, which costs more than the rows on small inputs.
        """
        return self.backend.create_table(name, expr, temp=True, overwrite=True)

    def upsert(self, name: str, expr: ir.Table, key: list[str]) -> tuple[int, int]:
        """Replace the rows whose `key` appears in `expr`, keep every other row (caller's transaction)."""
        self.ensure_table(name, expr.schema())
        cols = ", ".join(sg.to_identifier(c, quoted=True).sql(self.dialect) for c in key)
        keys = self.compile(expr.select(*key).distinct())
        deleted = self.delete_where(name, f"({cols}) IN (SELECT {cols} FROM ({keys}))")
        return deleted, self.insert(name, expr)

    def create_or_replace(self, name: str, expr: ir.Table) -> int:
        """Replace the table with `expr`'s rows, typed as Ibis types them (a `CREATE TABLE AS` would
        keep what the SQL happens to return, e.g. a TIMESTAMP for date arithmetic)."""
        self.execute(f"DROP TABLE IF EXISTS {self.quoted(name)}")
        self.ensure_table(name, expr.schema())
        return self.insert(name, expr)

    def count(self, name: str) -> int:
        return int(self.execute(f"SELECT count(*) FROM {self.quoted(name)}")[0][0])

    # -- sources ----------------------------------------------------------------------------
    def load_extension(self, name: str) -> None:
        if name not in self._loaded:
            self._raw.execute(f"LOAD '{_extension_file(name)}'")
            self._loaded.add(name)

    def attach_sqlite(self, path: str | Path, alias: str, *, read_only: bool = True) -> None:
        """Attach a SQLite file as catalog `alias`; all columns read as text so we type them."""
        path = Path(path)
        if not path.exists():
            raise SourceError(f"SQLite database {path} does not exist")
        self.load_extension("sqlite_scanner")
        self.detach(alias)
        mode = ", READ_ONLY" if read_only else ""
        lit = str(path).replace("'", "''")
        try:
            self._raw.execute(f"ATTACH '{lit}' AS {alias} (TYPE sqlite{mode})")
            self._raw.execute("SET sqlite_all_varchar = true")
            self.attached_tables(alias)  # forces a read: a corrupt or non-SQLite file fails here
        except duckdb.Error as exc:
            self.detach(alias)
            raise SourceError(f"{path} is not a readable SQLite database: {exc}") from exc

    def attached_tables(self, alias: str) -> list[str]:
        rows = self._raw.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = ? ORDER BY 1", [alias]
        ).fetchall()
        return [r[0] for r in rows]

    def detach(self, alias: str) -> None:
        with contextlib.suppress(duckdb.Error):
            self._raw.execute(f"DETACH DATABASE IF EXISTS {alias}")

    def close(self) -> None:
        interrupts.unregister(self._raw)
        self.backend.disconnect()
        if self.reading_copy is not None:
            self.reading_copy.remove()

    def __enter__(self) -> "Warehouse":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(config: WarehouseConfig | None = None, *, path: str | Path | None = None,
            lock_timeout: float | None = None, create: bool = True, build_hint: str | None = None,
            read_only: bool = False) -> Warehouse:
    """Open the warehouse the config names; `path=':memory:'` for tests.

    `create=False` (commands that only read: check, status, runs, show, ...) makes a missing file
    a ConfigError instead of a new empty warehouse, so a mistyped `--warehouse` is caught; its
    message ends with `build_hint` (the command that builds what the caller reads).
    `read_only=True` (implies `create=False`) opens the file read-only: nothing is created in it
    (not even the schemas), and any write statement fails. DuckDB lets one process write a file,
    or several read it, never both: when another process holds the write lock, a read-only
    connection reads a consistent copy of the file as of that process's last commit instead of
    waiting (`Warehouse.reading_copy` says so), so `martops runs` and `status` work during a run.
    A read-write connection waits for the lock (`lock_timeout_seconds`), then fails with a
    message; it never touches the other process's data.
    Raises ConfigError for a `memory_limit` or `threads` DuckDB refuses.
    """
    config = config or WarehouseConfig()
    location = str(path if path is not None else config.path)
    create = create and not read_only
    if location != ":memory:":
        _check_location(Path(location), create, build_hint or BUILD_HINT)
    elif read_only:
        raise ValueError("read_only needs a warehouse file, not ':memory:'")  # pragma: no cover - a martops bug
    settings: dict[str, Any] = {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "memory_limit": config.memory_limit,
        "preserve_insertion_order": False,
    }
    if config.threads:
        settings["threads"] = config.threads
    timeout = config.lock_timeout_seconds if lock_timeout is None else lock_timeout
    deadline = time.monotonic() + timeout
    warned = False
    while True:
        try:
            backend = ibis.duckdb.connect(location, read_only=read_only, **settings)
            break
        except (duckdb.ParserException, duckdb.InvalidInputException, duckdb.OutOfMemoryException) as exc:
            key, value = (("memory_limit", config.memory_limit) if "memory" in str(exc).lower()
                          else ("threads", config.threads))
            raise ConfigError(f"warehouse.{key} {value!r}: DuckDB refused it: {str(exc).splitlines()[0]}") from exc
        except duckdb.IOException as exc:
            if "could not set lock" not in str(exc).lower():  # not "lock" alone: a corrupt "block" is no lock
                raise MartopsError(f"cannot open warehouse {location}: {_first_line(exc)}") from exc
            if read_only:
                from martops.warehouse_copy import open_copy

                backend, copy = open_copy(Path(location), settings)
                log.info("warehouse %s is being written by another process; reading a copy as of its last "
                         "commit", location)
                return Warehouse(backend, location, read_only=True, reading_copy=copy)
            if time.monotonic() >= deadline:
                raise MartopsError(
                    f"warehouse {location} is in use by another martops process (waited {timeout:g} s); "
                    f"wait for it to finish, raise warehouse.lock_timeout_seconds, or point --warehouse "
                    f"elsewhere. DuckDB said: {str(exc).splitlines()[0]}"
                ) from exc
            if not warned:
                log.warning("warehouse %s is in use by another martops process; waiting up to %g s", location, timeout)
                warned = True
            time.sleep(min(0.25, max(deadline - time.monotonic(), 0.01)))
        except duckdb.Error as exc:  # any other refusal to open: the one line that says what, as above
            raise MartopsError(f"cannot open warehouse {location}: {_first_line(exc)}") from exc
    return Warehouse(backend, location, read_only=read_only)


def _first_line(exc: BaseException) -> str:
    """DuckDB's messages add lines (install hints, a docs link) after the one that says what failed."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _is_sqlite(path: Path) -> bool:
    """Whether `path` starts with SQLite's 16-byte header (an unreadable file is left to DuckDB)."""
    try:
        with path.open("rb") as f:
            return f.read(16) == SQLITE_HEADER
    except OSError:
        return False


SQLITE_HEADER = b"SQLite format 3\x00"
BUILD_HINT = "build it first (`martops attribution run`, `martops kpis build` or `martops crm build`)"


def _check_location(path: Path, create: bool, build_hint: str) -> None:
    if path.stem.lower() in SCHEMAS:
        # DuckDB names the file's catalog after its stem; `crm.customers` would then be ambiguous
        raise ConfigError(f"warehouse {path}: a warehouse file can't be named after one of its schemas "
                          f"({', '.join(SCHEMAS)}); use e.g. {path.with_stem(path.stem + '-warehouse')}")
    if path.is_dir():
        raise ConfigError(f"warehouse {path} is a directory; --warehouse takes a DuckDB file, e.g. {path / 'warehouse.duckdb'}")
    if not create and not path.exists():
        raise ConfigError(f"warehouse {path} does not exist (nothing was created); check --warehouse or "
                          f"warehouse.path in martops.yml, or {build_hint}")
    if _is_sqlite(path):
        # DuckDB would open it through its sqlite extension (not loaded: a multi-line install hint)
        raise ConfigError(f"warehouse {path} is a SQLite file, not a DuckDB warehouse; point --warehouse (or "
                          "warehouse.path in martops.yml) at a DuckDB file such as warehouse.duckdb (a challenge "
                          "SQLite database is read with --db)")
    if create:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"warehouse {path}: cannot create its folder {path.parent}: {exc.strerror}") from exc

