"""Reading a warehouse file that another process is writing: a consistent private copy.

DuckDB lets one process write a file or several read it, never both at once, so a read-only
command (`martops runs`, `status`) would otherwise wait for a pipeline to finish. `engine.connect`
with `read_only=True` falls back to this copy when the write lock is held.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

import ibis

from martops.errors import MartopsError


class WarehouseCopy:
    """A private copy of a warehouse file (and its write-ahead log) that another process is writing.

    DuckDB commits go to the `.wal` file beside the database and are folded into the database
    file by a checkpoint, which writes new blocks into free space and then the file's header
    (the first 12 KiB). The blocks the current header points to are reused only after the next
    checkpoint but one, so a copy taken while the header bytes stay the same is the state as of
    the writer's last commit (uncommitted work is never in the log); when a checkpoint lands
    during the copy the copy is taken again.
    """

    HEADER_BYTES = 3 * 4096
    ATTEMPTS = 5

    def __init__(self, source: Path):
        self.source = source
        self.folder = Path(tempfile.mkdtemp(prefix="martops-read-copy-"))
        self.path = self.folder / source.name

    def take(self) -> None:
        """Copy the file and its log; MartopsError when every attempt met a checkpoint."""
        wal = self.source.with_name(self.source.name + ".wal")
        for _ in range(self.ATTEMPTS):
            before = self._header()
            shutil.copyfile(self.source, self.path)
            self.path.with_name(self.path.name + ".wal").unlink(missing_ok=True)
            with contextlib.suppress(FileNotFoundError):  # no log: everything is checkpointed
                shutil.copyfile(wal, self.path.with_name(self.path.name + ".wal"))
            if self._header() == before:
                return
        raise MartopsError(f"warehouse {self.source} is being written by another process and changed during "
                           f"each of {self.ATTEMPTS} attempts to read it; try again when the run has finished")

    def _header(self) -> bytes:
        with open(self.source, "rb") as fh:
            return fh.read(self.HEADER_BYTES)

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def open_copy(location: Path, settings: dict[str, Any]) -> tuple[ibis.BaseBackend, WarehouseCopy]:
    """A read-only Ibis backend over a fresh copy of `location` (see `WarehouseCopy`), and the copy, which
    the caller removes when it closes the backend. MartopsError when the file cannot be copied."""
    copy = WarehouseCopy(location)
    try:
        copy.take()
        return ibis.duckdb.connect(str(copy.path), read_only=True, **settings), copy
    except BaseException as exc:
        copy.remove()
        if isinstance(exc, OSError):
            raise MartopsError(f"warehouse {location} is in use by another process and could not be copied "
                               f"to read it: {exc.strerror or exc}") from exc
        raise
