"""The loader: the in-process DuckDB that reads and types every source, on every engine.

DuckDB cannot download extensions offline; the pinned wheels carry the binaries, loaded from
there (`autoinstall_known_extensions` off).
"""

from __future__ import annotations

import contextlib
import importlib
from pathlib import Path
from typing import Any

import duckdb
import ibis

from martops.config import WarehouseConfig
from martops.errors import MartopsError, SourceError


def extension_file(name: str) -> Path:
    """The extension binary the pinned `duckdb-extension-<name>` wheel carries."""
    module = importlib.import_module(f"duckdb_extension_{name}")
    path = Path(module.__file__).parent / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not path.exists():
        raise MartopsError(
            f"DuckDB extension {name} for DuckDB {duckdb.__version__} not found at {path}; "
            f"reinstall from the lock (make setup) so duckdb-extension-{name.replace('_', '-')} "
            f"matches duckdb=={duckdb.__version__}"
        )
    return path


def settings(config: WarehouseConfig) -> dict[str, Any]:
    """DuckDB settings from the project's warehouse section (memory limit, threads)."""
    out: dict[str, Any] = {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "memory_limit": config.memory_limit,
        "preserve_insertion_order": False,
    }
    if config.threads:
        out["threads"] = config.threads
    return out


def open_loader(config: WarehouseConfig) -> ibis.BaseBackend:
    """A private in-memory DuckDB for a warehouse on another engine."""
    backend = ibis.duckdb.connect(":memory:", **settings(config))
    backend.con.execute("PRAGMA disable_progress_bar")  # a SET fails in Jupyter without ipywidgets
    return backend


class PrivateLoader:
    """The loader of a warehouse on another engine (mixed into Warehouse): a private in-memory
    DuckDB, opened on first use (a step that reads no source never starts one)."""

    _config: WarehouseConfig
    _loader: ibis.BaseBackend | None = None

    @property
    def loader(self) -> ibis.BaseBackend:
        if self._loader is None:
            from martops import interrupts

            self._loader = open_loader(self._config)
            interrupts.register(self._loader.con)
        return self._loader

    def _close_loader(self) -> None:
        if self._loader is not None:
            from martops import interrupts

            interrupts.unregister(self._loader.con)
            self._loader.disconnect()
            self._loader = None


class SourceAttachments:
    """Attaching SQLite sources to the loader (mixed into Warehouse)."""

    loader: ibis.BaseBackend

    def load_extension(self, name: str) -> None:
        loaded = self.__dict__.setdefault("_extensions_loaded", set())
        if name not in loaded:
            self.loader.con.execute(f"LOAD '{extension_file(name)}'")
            loaded.add(name)

    def attach_sqlite(self, path: str | Path, alias: str, *, read_only: bool = True) -> None:
        """Attach a SQLite file to the loader as catalog `alias`; all columns read as text so we type them."""
        path = Path(path)
        if not path.exists():
            raise SourceError(f"SQLite database {path} does not exist")
        self.load_extension("sqlite_scanner")
        self.detach(alias)
        mode = ", READ_ONLY" if read_only else ""
        lit = str(path).replace("'", "''")
        con = self.loader.con
        try:
            con.execute(f"ATTACH '{lit}' AS {alias} (TYPE sqlite{mode})")
            con.execute("SET sqlite_all_varchar = true")
            self.attached_tables(alias)  # forces a read: a corrupt or non-SQLite file fails here
        except duckdb.Error as exc:
            self.detach(alias)
            raise SourceError(f"{path} is not a readable SQLite database: {exc}") from exc

    def attached_tables(self, alias: str) -> list[str]:
        rows = self.loader.con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = ? ORDER BY 1", [alias]
        ).fetchall()
        return [r[0] for r in rows]

    def detach(self, alias: str) -> None:
        with contextlib.suppress(duckdb.Error):
            self.loader.con.execute(f"DETACH DATABASE IF EXISTS {alias}")
