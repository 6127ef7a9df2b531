"""A SQLite file as a raw source: every table as text columns plus its rowid as `_row`.

DuckDB reads the file through the sqlite scanner from the pinned wheel (no download), every
column as text, so typing happens in `sources.typed`, under our control, with reasons per row.
A NUL character (U+0000) in a text becomes U+FFFD, the replacement character, before anything
else sees it: PostgreSQL cannot store a NUL in text, so keeping it would give DuckDB and
PostgreSQL warehouses different values from one file (the CSV reader does the same).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import duckdb
import ibis.expr.types as ir

from martops.engine import Warehouse
from martops.errors import SourceError
from martops.sources.typed import ROW


def hold_read_lock(path: Path, timeout: float) -> sqlite3.Connection:
    """Take SQLite's shared lock and keep it while we read, so no writer commits halfway through.

    DuckDB's scanner reads without SQLite's locking, so a file locked by a writer would be read
    as whatever is on disk; this makes a locked file an error with a clear message instead.
    """
    uri = f"{path.resolve().as_uri()}?mode=ro"
    con = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)
    try:
        con.execute("BEGIN")
        con.execute("SELECT count(*) FROM sqlite_master").fetchall()
    except sqlite3.OperationalError as exc:
        con.close()
        if "locked" in str(exc) or "busy" in str(exc):
            raise SourceError(
                f"{path} is locked by another program writing to it (SQLite: {exc}, after waiting {timeout:g} s); "
                "let that write finish (or copy the file) and re-run; nothing was loaded"
            ) from exc
        raise SourceError(f"{path} is not a readable SQLite database: {exc}") from exc
    except sqlite3.DatabaseError as exc:
        con.close()
        raise SourceError(f"{path} is not a readable SQLite database: {exc}") from exc
    return con


_UTF8_CHECKED: set[tuple] = set()
"""(file, mtime, size, table, columns) already found to be UTF-8 in this process."""


class SqliteFile:
    kind = "SQLite database"

    def __init__(self, wh: Warehouse, path: str | Path, alias: str = "src_sqlite", lock_timeout: float = 5.0):
        self.wh, self.path, self.alias = wh, Path(path), alias
        if not self.path.exists():
            raise SourceError(f"SQLite database {self.path} does not exist")
        self._lock = hold_read_lock(self.path, lock_timeout)
        try:
            wh.attach_sqlite(self.path, alias)
        except BaseException:
            self._lock.close()
            raise

    def tables(self) -> list[str]:
        return self.wh.attached_tables(self.alias)

    def has_table(self, table: str) -> bool:
        return table in self.tables()

    def _info(self, table: str) -> list[tuple]:
        return self.wh.loader_execute(f"PRAGMA table_info('{self.alias}.main.{table}')")

    def columns(self, table: str) -> list[str]:
        return [r[1] for r in self._info(table)]

    def declared_unique(self, table: str, key: tuple[str, ...]) -> bool:
        """SQLite enforces a declared primary key, so a duplicate pass would find nothing."""
        pk = [r[1] for r in sorted(self._info(table), key=lambda r: r[5]) if r[5]]
        return tuple(pk) == tuple(key)

    def raw(self, table: str, columns: list[str]) -> ir.Table:
        cols = ", ".join(f'replace("{c}", chr(0), chr(65533)) AS "{c}"' for c in columns)
        return self.wh.loader_sql(f"SELECT rowid AS {ROW}, {cols} FROM {self.alias}.main.{table}")

    def has_rows(self, table: str) -> bool:
        try:
            return bool(self.wh.loader_execute(f"SELECT 1 FROM {self.alias}.main.{table} LIMIT 1"))
        except duckdb.Error as exc:
            raise SourceError(f"{self.path}: cannot read table {table!r}: {exc}") from exc

    def not_utf8(self, tables: list[str]) -> SourceError | None:
        """The first TEXT value of `tables` that is not UTF-8, as an error naming table, rowid and
        column; None when every text is UTF-8.

        SQLite stores any bytes as TEXT, and DuckDB's scanner fails on such a value inside a query
        with an error that names no row (or a nonsense string size), so a failed read is explained
        here, on the error path only, by reading the raw bytes through SQLite itself.
        """
        con = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
        con.text_factory = bytes
        try:
            for table in tables:
                cols = [r[1].decode("utf-8", "replace") for r in con.execute(f"PRAGMA table_info('{table}')")]
                quoted = ", ".join('"' + c.replace('"', '""') + '"' for c in cols)
                for rowid, *values in con.execute(f'SELECT rowid, {quoted} FROM "{table}"'):
                    for col, v in zip(cols, values):
                        if isinstance(v, bytes):
                            try:
                                v.decode("utf-8")
                            except UnicodeDecodeError:
                                return self._not_utf8_error(table, rowid, col, v)
        except sqlite3.DatabaseError:
            return None
        finally:
            con.close()
        return None

    def require_utf8(self, table: str, *columns: str) -> None:
        """SourceError naming the first row (and its first column of `columns`) that is not UTF-8
        text; checked before any query that would meet such a text.

        `not_utf8` explains a failed query, but some of DuckDB's string functions do not fail on
        such a text: `trim` of b'Caf\\xe9' loops forever at full CPU (DuckDB 1.5), and the date,
        time, number and channel parsers all trim, so the columns they read are checked first. One
        scan of the table in DuckDB: `decode` checks the bytes `encode` hands it unchanged (a cast
        to BLOB would reject valid non-ASCII text such as 'Café').
        """
        stat = self.path.stat()
        key = (str(self.path.resolve()), stat.st_mtime_ns, stat.st_size, table, columns)
        if key in _UTF8_CHECKED:  # the default range and the ingest of one run open the file twice
            return
        cols = ['"' + c.replace('"', '""') + '"' for c in columns]
        bad = [f"({c} IS NOT NULL AND try(decode(encode({c}))) IS NULL)" for c in cols]
        found = self.wh.loader_execute(f"SELECT rowid, {', '.join(bad)} FROM {self.alias}.main.{table} "
                                f"WHERE {' OR '.join(bad)} ORDER BY rowid LIMIT 1")
        if not found:
            _UTF8_CHECKED.add(key)
            return
        rowid, *flags = found[0]
        column, col = next((c, q) for c, q, flag in zip(columns, cols, flags) if flag)
        con = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
        con.text_factory = bytes
        try:
            value = con.execute(f'SELECT CAST({col} AS BLOB) FROM "{table}" WHERE rowid = ?', [rowid]).fetchone()[0]
        finally:
            con.close()
        raise self._not_utf8_error(table, rowid, column, value)

    def _not_utf8_error(self, table: str, rowid: int, column: str, value: bytes) -> SourceError:
        return SourceError(f"{self.path}: table {table!r}, rowid {rowid}, column {column!r}: text {value[:40]!r} "
                           "is not UTF-8; re-export the table as UTF-8 text; nothing was loaded")

    def close(self) -> None:
        self.wh.detach(self.alias)
        self._lock.close()
