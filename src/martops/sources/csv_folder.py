"""A folder of CSV exports as a raw source: `<table>.csv` per table, every column as text.

Files are read by `sources.csv_files` (the one CSV reader): encoding, delimiter, duplicate
columns and readability are checked before anything reaches the warehouse, with messages naming
the file, the line or column and the setting to change. `_row` is the physical line where each
record starts (the header is line 1).
"""

from __future__ import annotations

from pathlib import Path

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from martops.engine import Warehouse
from martops.errors import SourceError
from martops.sources.csv_files import Layout, read_header, read_text_table
from martops.sources.typed import ROW


class CsvFolder:
    kind = "folder of CSV files"

    def __init__(self, wh: Warehouse, path: str | Path, *, delimiter: str = ",", setting: str = "sources"):
        """`delimiter`: the field separator; `setting`: the settings key messages point at
        (`sources.attribution`). Only an empty cell is NULL: null markers are the typing's business."""
        self.wh, self.path = wh, Path(path)
        self.delimiter, self.setting = delimiter, setting
        if not self.path.is_dir():
            raise SourceError(f"{self.path} is not a folder of CSV files")
        self._layouts: dict[str, Layout] = {}
        self._data: dict[str, pa.Table] = {}

    def _file(self, table: str) -> Path:
        """`<table>.csv`, or the one file whose name differs from it only in case (`People.csv`,
        `EVENTS.CSV`: exports from Windows tools); two such files are an error naming both."""
        exact = self.path / f"{table}.csv"
        if not self.path.is_dir():
            return exact
        near = sorted(p for p in self._csv_files() if p.stem.casefold() == table.casefold())
        if len(near) > 1:
            raise SourceError(f"{self.path}: {' and '.join(p.name for p in near)} differ only in case; keep one "
                              f"of them as {table}.csv")
        return near[0] if near else exact

    def _csv_files(self) -> list[Path]:
        return [p for p in self.path.iterdir() if p.suffix.lower() == ".csv"]  # a folder so named: read_header says so

    def tables(self) -> list[str]:
        return sorted(p.stem for p in self._csv_files())

    def has_table(self, table: str) -> bool:
        return self._file(table).exists()

    def columns(self, table: str) -> list[str]:
        if table not in self._layouts:
            self._layouts[table] = read_header(self._file(table), self.delimiter, self.setting)
        return self._layouts[table].names

    def declared_unique(self, table: str, key: tuple[str, ...]) -> bool:
        return False  # a CSV promises nothing

    def _read(self, table: str) -> pa.Table:
        if table not in self._data:
            self.columns(table)
            self._data[table] = read_text_table(self._file(table), self._layouts[table], self.delimiter)
        return self._data[table]

    def raw(self, table: str, columns: list[str]) -> ir.Table:
        return ibis.memtable(self._read(table).select([ROW, *columns]))

    def has_rows(self, table: str) -> bool:
        return self._read(table).num_rows > 0

    def close(self) -> None:
        self._data.clear()
