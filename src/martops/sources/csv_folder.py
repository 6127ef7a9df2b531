"""A folder of CSV exports as a raw source: `<table>.csv` per table, every column as text.

Encoding and header are checked before anything is read into the warehouse, with messages that
say which file, which line and what was expected. `_row` is the line number in the file (the
header is line 1; exact unless a quoted field spans lines), so a quarantined row can be found
with any editor.
"""

from __future__ import annotations

import csv
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.csv as pacsv

from martops.engine import Warehouse
from martops.errors import SourceError
from martops.sources.typed import ROW


def _first_bad_utf8_line(path: Path) -> tuple[int, bytes] | None:
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number, line[:80]
    return None


def read_header(path: Path) -> list[str]:
    bad = _first_bad_utf8_line(path)
    if bad is not None:
        raise SourceError(f"{path}: line {bad[0]} is not UTF-8 ({bad[1]!r}); save the export as UTF-8 and re-run")
    with path.open(encoding="utf-8-sig", newline="") as fh:
        header = next(csv.reader(fh), None)
    if not header:
        raise SourceError(f"{path}: the file is empty; expected a header line")
    return [h.strip() for h in header]


class CsvFolder:
    kind = "folder of CSV files"

    def __init__(self, wh: Warehouse, path: str | Path, *, null_values: list[str] | None = None):
        """`null_values`: texts read as NULL (default: Arrow's list, which includes NA, NaN and null);
        pass `[""]` where such texts may be real values (Namibia's country code is NA)."""
        self.wh, self.path = wh, Path(path)
        self.null_values = null_values
        if not self.path.is_dir():
            raise SourceError(f"{self.path} is not a folder of CSV files")
        self._headers: dict[str, list[str]] = {}
        self._data: dict[str, pa.Table] = {}

    def _file(self, table: str) -> Path:
        return self.path / f"{table}.csv"

    def tables(self) -> list[str]:
        return sorted(p.stem for p in self.path.glob("*.csv"))

    def columns(self, table: str) -> list[str]:
        if table not in self._headers:
            self._headers[table] = read_header(self._file(table))
        return self._headers[table]

    def declared_unique(self, table: str, key: tuple[str, ...]) -> bool:
        return False  # a CSV promises nothing

    def _read(self, table: str) -> pa.Table:
        if table in self._data:
            return self._data[table]
        path = self._file(table)
        header = self.columns(table)
        try:
            data = pacsv.read_csv(
                path,
                read_options=pacsv.ReadOptions(column_names=header, skip_rows=1, encoding="utf-8"),
                convert_options=pacsv.ConvertOptions(column_types={h: pa.string() for h in header},
                                                     strings_can_be_null=True, null_values=self.null_values),
            )
        except pa.ArrowInvalid as exc:
            raise SourceError(f"{path}: cannot be read as CSV with header {header}: {exc}") from exc
        self._data[table] = data
        return data

    def raw(self, table: str, columns: list[str]) -> ir.Table:
        data = self._read(table).select(columns)
        rows = pa.array(range(2, data.num_rows + 2), type=pa.int64())
        return ibis.memtable(data.add_column(0, ROW, rows))

    def has_rows(self, table: str) -> bool:
        return self._read(table).num_rows > 0

    def close(self) -> None:
        self._data.clear()
