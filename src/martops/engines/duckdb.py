"""The DuckDB warehouse: one file (or `:memory:`), the default engine.

DuckDB is also the loader here: sources attach to the warehouse's own connection, so typed rows
go from source to table in one INSERT ... SELECT, without a copy.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir

from martops import interrupts
from martops.config import WarehouseConfig
from martops.engines import loader as L
from martops.engines.base import SCHEMAS, Warehouse
from martops.engines.loader import SourceAttachments
from martops.errors import ConfigError, MartopsError

log = logging.getLogger(__name__)


class DuckDBWarehouse(SourceAttachments, Warehouse):
    engine = "duckdb"
    dialect = "duckdb"
    query_errors = (duckdb.Error,)

    def __init__(self, backend: ibis.BaseBackend, location: str, *, read_only: bool = False,
                 reading_copy: Any = None):
        super().__init__(backend, location, read_only=read_only, reading_copy=reading_copy)
        self._raw = backend.con
        interrupts.register(self._raw)  # Ctrl-C stops a running query at once (see interrupts)
        self._raw.execute("PRAGMA disable_progress_bar")  # rich draws ours; DuckDB's would garble it (a SET fails in Jupyter)
        if not read_only:
            for schema in SCHEMAS:
                self.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")

    @property
    def loader(self) -> ibis.BaseBackend:
        return self.backend

    def _cursor_execute(self, sql: str, params: list[Any]) -> Any:
        return self._raw.execute(sql, params)

    def _affected(self, cursor: Any) -> int:
        return 0

    def _bulk_insert(self, name: str, expr: ir.Table) -> int:  # pragma: no cover - the loader is the warehouse
        raise AssertionError("a DuckDB warehouse is its own loader")

    def seal(self) -> None:
        self.execute("SET enable_external_access = false")

    def save_rows(self, sql: str, params: list[Any], path: Any) -> None:
        lit = "'" + str(path).replace("'", "''") + "'"
        self.execute(f"COPY ({sql}) TO {lit} (FORMAT parquet)", params)

    def _interrupted(self, exc: BaseException) -> bool:
        return isinstance(exc, duckdb.InterruptException)

    def files_folder(self, kind: str) -> Path | None:
        """`<stem>.<kind>/` beside the file (`crm.duckdb` -> `crm.lead-models/`)."""
        if self.location == ":memory:":
            return None
        path = Path(self.location).resolve()
        return path.parent / f"{path.stem}.{kind}"

    def relations(self) -> list[tuple[str, str, int]]:
        rows = self.execute(
            "SELECT schema_name || '.' || table_name, 'table', column_count FROM duckdb_tables() "
            "WHERE database_name = current_database() AND NOT temporary "
            "UNION ALL SELECT schema_name || '.' || view_name, 'view', column_count FROM duckdb_views() "
            "WHERE database_name = current_database() AND NOT temporary AND NOT internal ORDER BY 1")
        return [(name, kind, int(n)) for name, kind, n in rows]

    def close(self) -> None:
        interrupts.unregister(self._raw)
        super().close()


def connect_duckdb(config: WarehouseConfig | None = None, *, path: str | Path | None = None,
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
    settings = L.settings(config)
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
                return DuckDBWarehouse(backend, location, read_only=True, reading_copy=copy)
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
    return DuckDBWarehouse(backend, location, read_only=read_only)


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
DUCKDB_MAGIC = b"DUCK"
"""Bytes 8..12 of every DuckDB database file (after an 8-byte checksum)."""
NOT_WAREHOUSE_SUFFIXES = frozenset([".csv", ".tsv", ".parquet", ".json", ".jsonl", ".ndjson", ".xlsx", ".xls",
                                    ".txt", ".sqlite", ".sqlite3", ".yml", ".yaml"])


def _head(path: Path) -> bytes | None:
    """The file's first 4 KiB (None when it cannot be read: DuckDB then says why itself)."""
    try:
        with path.open("rb") as f:
            return f.read(4096)
    except OSError:
        return None


def _not_duckdb(path: Path, head: bytes) -> str:
    """Why an existing file is no warehouse. DuckDB opened a CSV export given as --warehouse as
    something else: a build said success, stored nothing, and a later read failed with a message
    about in-memory databases. An empty file is refused too: DuckDB itself refuses to open it, and
    it is not ours to delete."""
    if not head:
        kind = "it is empty"
    elif head.startswith(b"PAR1"):
        kind = "it is a Parquet file"
    elif head.startswith(b"PK\x03\x04"):
        kind = "it is a ZIP archive, like an .xlsx workbook"
    elif b"\x00" in head:
        kind = "it starts with other binary data"
    else:
        text = head.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
        kind = ("it starts like JSON" if text[:1] in ("{", "[") else
                "it starts like a CSV file" if any(c in text.split("\n", 1)[0] for c in ",;\t|") else
                "it starts like a text file")
    return (f"warehouse {path} is not a DuckDB database ({kind}); give the warehouse file, e.g. warehouse.duckdb "
            "(nothing was written to it)")
BUILD_HINT = ("build it first (`martops run`, or one domain: `martops attribution run`, `martops kpis build`, "
              "`martops crm build`, `martops loyalty build`, `martops usage build`, `martops leads score` or "
              "`martops ingest fx`)")


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
    if path.is_file():
        head = _head(path)
        if head is not None and head[8:12] != DUCKDB_MAGIC:
            raise ConfigError(_not_duckdb(path, head))
    elif create and path.suffix.lower() in NOT_WAREHOUSE_SUFFIXES:
        # DuckDB would make it, and a later export to that name would overwrite the warehouse
        raise ConfigError(f"warehouse {path}: a warehouse is a DuckDB file: name it *.duckdb, e.g. "
                          f"{path.with_suffix('.duckdb')} (nothing was created)")
    if create:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"warehouse {path}: cannot create its folder {path.parent}: {exc.strerror}") from exc

