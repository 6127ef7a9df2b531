"""The files of a Spark warehouse: Parquet tables in folders, and how writes to them commit.

Layout under the warehouse folder (`root`)::

    <schema>/<table>/_martops_table.json    the table's columns (Spark types, in martops' order)
                                             and its partition column, if any
    <schema>/<table>/part-*.parquet          an unpartitioned table's files
    <schema>/<table>/date=2024-01-31/part-*  a table partitioned by date
    <schema>/<view>/_martops_view.json       a view: its SQL
    _martops/lock                            held (flock) by the one process that writes
    _martops/transaction.json                the undo log of the transaction in progress
    _martops/undo/  _martops/staging/        files a transaction replaced; files being written

Plain Parquet has no transactions, so martops keeps its own, for one writer at a time (the lock):
every write is copy-on-write at file level. Spark writes the new files to `staging/` first (a
failure or kill there leaves the table untouched); then the undo log records which files will
leave the table and which will enter it (write-ahead), the replaced files are moved to `undo/` and
the new ones into the table (renames on one filesystem). COMMIT deletes `undo/` and the log;
ROLLBACK moves every file back, in reverse order. A process killed at any point leaves the log
behind, and the next writer to open the warehouse rolls the transaction back before anything else
(as a database replays its journal): a killed step leaves no trace, as on DuckDB and PostgreSQL.

Readers take no lock and are not isolated: a query running while a step writes sees each table
as that step's last completed write left it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import unquote, urlsplit

from martops.errors import MartopsError
from martops.ops import faults

log = logging.getLogger(__name__)

TABLE_FILE = "_martops_table.json"
VIEW_FILE = "_martops_view.json"
LOG_FILE = "transaction.json"


@dataclasses.dataclass(frozen=True)
class TableMeta:
    """What the files alone cannot say: the column order (Spark puts partition columns last) and
    types of a table that may hold no file yet, and its partition column."""

    columns: tuple[tuple[str, str], ...]
    """(name, Spark type as DDL, e.g. 'bigint', 'decimal(18,2)'), in martops' order."""
    partition: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"columns": [list(c) for c in self.columns], "partition": self.partition}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "TableMeta":
        return cls(tuple((str(n), str(t)) for n, t in data["columns"]), data.get("partition"))


def data_files(folder: Path) -> list[Path]:
    """The Parquet files of a table folder (or of a Spark output folder), partition folders included;
    Spark's own markers and martops' metadata (names starting with '_' or '.') are not data."""
    if not folder.is_dir():
        return []
    out = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(("_", "."))]
        out += [Path(dirpath) / f for f in filenames if not f.startswith(("_", "."))]
    return sorted(out)


def file_path(uri: str) -> Path:
    """A local path from the file URI Spark reports (`_metadata.file_path`)."""
    parts = urlsplit(uri)
    return Path(unquote(parts.path)) if parts.scheme in ("file", "") else Path(uri)


def _write_json(path: Path, data: Any) -> None:
    """Atomically: a reader (or a kill) sees the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _move(src: Path, dst: Path) -> None:
    """Move one file, idempotently (a replayed move whose source is gone has happened)."""
    if not src.exists():
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, dst)


def _prune(folder: Path, stop: Path) -> None:
    """Remove `folder` and its parents up to `stop` while they are empty (an emptied partition)."""
    while folder != stop and stop in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


class Store:
    """The warehouse folder: table metadata, the writer's lock and the transaction log."""

    def __init__(self, root: Path):
        self.root = root
        self.meta_dir = root / "_martops"
        self._lock_file: Any = None
        self._tx: dict[str, Any] | None = None

    # -- layout -----------------------------------------------------------------------------
    def table_dir(self, name: str) -> Path:
        schema, _, table = name.rpartition(".")
        return self.root / schema / table

    def meta(self, name: str) -> TableMeta | None:
        path = self.table_dir(name) / TABLE_FILE
        if not path.is_file():
            return None
        return TableMeta.from_json(json.loads(path.read_text("utf-8")))

    def view_sql(self, name: str) -> str | None:
        path = self.table_dir(name) / VIEW_FILE
        return json.loads(path.read_text("utf-8"))["sql"] if path.is_file() else None

    def names(self, schemas: Iterable[str]) -> list[tuple[str, str]]:
        """(`schema.name`, 'table'|'view') of everything stored, sorted."""
        out = []
        for schema in schemas:
            folder = self.root / schema
            if not folder.is_dir():
                continue
            for d in sorted(folder.iterdir()):
                if (d / TABLE_FILE).is_file():
                    out.append((f"{schema}.{d.name}", "table"))
                elif (d / VIEW_FILE).is_file():
                    out.append((f"{schema}.{d.name}", "view"))
        return out

    # -- the writer's lock ---------------------------------------------------------------------
    def lock(self, timeout: float, shown: str) -> None:
        """Hold the writer's lock (released by the OS however the process ends); MartopsError after
        `timeout` seconds of another process holding it."""
        self.meta_dir.mkdir(parents=True, exist_ok=True)
        f = (self.meta_dir / "lock").open("a+")
        deadline, warned = time.monotonic() + timeout, False
        while True:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    f.close()
                    raise MartopsError(f"warehouse {shown} is in use by another martops process (waited "
                                       f"{timeout:g} s); wait for it to finish, raise warehouse.lock_timeout_seconds, "
                                       "or point --warehouse elsewhere") from None
                if not warned:
                    log.warning("warehouse %s is in use by another martops process; waiting up to %g s", shown, timeout)
                    warned = True
                time.sleep(min(0.25, max(deadline - time.monotonic(), 0.01)))
        self._lock_file = f

    def unlock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    # -- the transaction -----------------------------------------------------------------------
    @property
    def log_path(self) -> Path:
        return self.meta_dir / LOG_FILE

    @property
    def in_transaction(self) -> bool:
        return self._tx is not None

    def begin(self) -> None:
        if self._tx is not None:
            raise RuntimeError("a Spark warehouse transaction is already open")  # pragma: no cover - a martops bug
        self._tx = {"id": uuid.uuid4().hex[:12], "state": "open", "entries": []}

    def _save(self) -> None:
        self.meta_dir.mkdir(parents=True, exist_ok=True)
        _write_json(self.log_path, self._tx)

    def commit(self) -> list[str]:
        """Make the transaction's writes permanent; the tables it touched."""
        tx, self._tx = self._tx, None
        if tx is None or not tx["entries"]:
            return []
        tx["state"] = "committed"
        _write_json(self.log_path, tx)
        self._finish(tx)
        return sorted({e["table"] for e in tx["entries"]})

    def rollback(self) -> list[str]:
        """Undo the transaction's writes, newest first; the tables it touched."""
        tx, self._tx = self._tx, None
        if tx is None or not tx["entries"]:
            return []
        self._undo(tx)
        return sorted({e["table"] for e in tx["entries"]})

    def recover(self) -> list[str]:
        """At a writer's open: finish what a killed process left (roll an open transaction back,
        complete a committed one's clean-up) and remove half-written staging files; the tables
        that were touched."""
        touched: list[str] = []
        if self.log_path.is_file():
            tx = json.loads(self.log_path.read_text("utf-8"))
            touched = sorted({e["table"] for e in tx["entries"]})
            if tx["state"] == "committed":
                self._finish(tx)
            else:
                log.warning("rolling back the transaction a killed martops process left in %s (tables: %s)",
                            self.root, ", ".join(touched) or "none")
                self._undo(tx)
        for leftover in ("staging", "incoming"):
            shutil.rmtree(self.meta_dir / leftover, ignore_errors=True)
        return touched

    def _finish(self, tx: dict[str, Any]) -> None:
        shutil.rmtree(self.meta_dir / "undo" / tx["id"], ignore_errors=True)
        self.log_path.unlink(missing_ok=True)

    def _undo(self, tx: dict[str, Any]) -> None:
        for entry in reversed(tx["entries"]):
            folder = self.table_dir(entry["table"])
            for added in entry["added"]:
                path = Path(added)
                path.unlink(missing_ok=True)
                _prune(path.parent, folder)
            for original, kept in entry["removed"]:
                _move(Path(kept), Path(original))
            for file, content in (entry["meta"].items()):
                path = folder / file
                if content is None:
                    path.unlink(missing_ok=True)
                else:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    _write_json(path, content)
            if not any(folder.glob("*")) and folder.is_dir():
                folder.rmdir()  # a table (or view) the transaction created
        shutil.rmtree(self.meta_dir / "undo" / tx["id"], ignore_errors=True)
        self.log_path.unlink(missing_ok=True)

    @contextlib.contextmanager
    def _autocommit(self):
        """A write outside a transaction is one of its own."""
        if self._tx is not None:
            yield
            return
        self.begin()
        try:
            yield
        except BaseException:
            self.rollback()
            raise
        self.commit()

    # -- writes ----------------------------------------------------------------------------------
    def staging_dir(self) -> Path:
        path = self.meta_dir / "staging" / uuid.uuid4().hex
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def incoming_dir(self) -> Path:
        path = self.meta_dir / "incoming" / uuid.uuid4().hex
        path.mkdir(parents=True, exist_ok=True)
        return path

    def replace_files(self, name: str, remove: Iterable[Path], staged: Path | None,
                      meta: dict[str, dict[str, Any] | None] | None = None) -> int:
        """In one step of the transaction: the files `remove` leave table `name`, the data files
        Spark wrote to `staged` enter it at the same place under the table folder, and each
        metadata file in `meta` (TABLE_FILE, VIEW_FILE) gets its new content (None: removed).
        The number of files that entered."""
        folder = self.table_dir(name)
        with self._autocommit():
            tx = self._tx
            assert tx is not None
            undo = self.meta_dir / "undo" / tx["id"] / uuid.uuid4().hex[:8]
            removed = [(str(p), str(undo / p.relative_to(folder))) for p in remove]
            moves = [(p, folder / p.relative_to(staged)) for p in data_files(staged)] if staged else []
            before = {f: (json.loads((folder / f).read_text("utf-8")) if (folder / f).is_file() else None)
                      for f in (meta or {})}
            tx["entries"].append({"table": name, "removed": removed, "added": [str(d) for _, d in moves],
                                  "meta": before})
            self._save()  # write-ahead: from here a kill is undone by the next writer's recover()
            for i, (original, kept) in enumerate(removed):
                _move(Path(original), Path(kept))
                _prune(Path(original).parent, folder)
                if i == 0:
                    faults.pause_point(f"spark.mid_write:{name}")  # tests kill a writer here
            for src, dst in moves:
                _move(src, dst)
            for file, content in (meta or {}).items():
                path = folder / file
                if content is None:
                    path.unlink(missing_ok=True)
                else:
                    folder.mkdir(parents=True, exist_ok=True)
                    _write_json(path, content)
            if staged is not None:
                shutil.rmtree(staged, ignore_errors=True)
            if not any(folder.glob("*")) and folder.is_dir():
                folder.rmdir()  # a dropped table
        return len(moves)
