"""The engine layer: `connect()` opens the warehouse a location names, a `Warehouse` either way.

Business logic builds Ibis expressions and hands them to the `Warehouse` to be written; the
engines (`martops.engines`) own the SQL of writing (atomic replace of a range, upsert,
create-or-replace, bulk loads) so that engine differences stay in one place, expressed as
capabilities (`separate_loader`, `supports_schemas`, ...), never as isinstance checks.
"""

from __future__ import annotations

from pathlib import Path

from martops.config import WarehouseConfig
from martops.engines.base import SCHEMAS, Warehouse
from martops.engines.duckdb import BUILD_HINT, connect_duckdb
from martops.engines.loader import extension_file as _extension_file
from martops.engines.location import resolve

__all__ = ["SCHEMAS", "Warehouse", "connect", "BUILD_HINT", "_extension_file"]


def connect(config: WarehouseConfig | None = None, *, path: str | Path | None = None,
            lock_timeout: float | None = None, create: bool = True, build_hint: str | None = None,
            read_only: bool = False) -> Warehouse:
    """Open the warehouse `path` names (a DuckDB file, ':memory:' for tests, a postgresql://
    DSN, or spark:DIR, as `--warehouse` gives it), else the config's.

    `create=False` (commands that only read) makes a missing warehouse a ConfigError instead of a
    new empty one, so a mistyped `--warehouse` is caught; its message ends with `build_hint` (the
    command that builds what the caller reads). `read_only=True` (implies `create=False`) writes
    nothing. A writer waits `lock_timeout_seconds` for another writer, then fails with a message.
    See `engines.duckdb.connect_duckdb`, `engines.postgres.connect_postgres` and
    `engines.spark.connect_spark`.
    """
    config = config or WarehouseConfig()
    where = resolve(None if path is None else str(path), config.engine, config.path, config.dsn, config.warehouse_dir)
    if where.engine == "spark":
        from martops.engines.spark import connect_spark

        return connect_spark(config, where.target, master=where.master, create=create and not read_only,
                             read_only=read_only, build_hint=build_hint or BUILD_HINT, lock_timeout=lock_timeout)
    if where.engine == "postgres":
        from martops.engines.postgres import connect_postgres

        return connect_postgres(config, where.target, create=create and not read_only, read_only=read_only,
                                build_hint=build_hint or BUILD_HINT, lock_timeout=lock_timeout)
    return connect_duckdb(config, path=where.target, lock_timeout=lock_timeout, create=create,
                          build_hint=build_hint, read_only=read_only)
