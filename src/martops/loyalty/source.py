"""A loyalty delivery: a folder holding `customers.csv` and `transactions.csv` (the February
Challenge's shape), both full extracts, both required.

Headers are matched trimmed and case-insensitively; extra columns are ignored; a missing required
column is an error naming the file and the header it has. Every column is read as text by
`sources.csv_files` (the one CSV reader), so `_row` is the physical line of the record.
"""

from __future__ import annotations

from pathlib import Path

import ibis
import ibis.expr.types as ir

from martops.config import SourceSettings
from martops.engine import Warehouse
from martops.errors import SourceError
from martops.sources import headers
from martops.sources.csv_files import check_readable
from martops.sources.csv_folder import CsvFolder
from martops.sources.typed import ROW

REQUIRED = {
    "customers": ("id", "signup_date", "loyalty"),
    "transactions": ("date", "user_id", "value", "point_differential"),
}
OPTIONAL = {
    "customers": ("location", "gender", "age", "favorite_movie_line", "number_of_purchases", "value_of_purchases",
                  "total_standard_points", "total_points_redeemed"),
    "transactions": (),
}
"""Columns read when present; a missing one is NULL for every row (the segment reads 'unknown')."""
FILLED = ("number_of_purchases", "value_of_purchases", "total_standard_points", "total_points_redeemed")
"""Blank by design in the source; the ETL fills them (`loyalty.customers`)."""
SETTING = "sources.loyalty"


class LoyaltyFolder:
    def __init__(self, wh: Warehouse, folder: str | Path, settings: SourceSettings | None = None):
        self.path = Path(folder)
        self.settings = settings or SourceSettings()
        if not self.path.is_dir():
            raise SourceError(f"{self.path} is not a folder; expected a folder holding customers.csv and transactions.csv")
        for name in REQUIRED:
            p = self.file(name)
            if not p.exists():
                found = sorted(q.name for q in self.path.iterdir() if q.is_file()) or "none"
                raise SourceError(f"{p} is missing; a loyalty delivery needs customers.csv and transactions.csv "
                                  f"(files found: {found})")
            if not p.is_file():
                raise SourceError(f"{p} is a {'directory' if p.is_dir() else 'special file'}; expected a CSV file")
            check_readable(p)
        self._csv = CsvFolder(wh, self.path, delimiter=self.settings.delimiter, setting=SETTING)
        self._headers = {name: self._header(name) for name in REQUIRED}
        for name in REQUIRED:
            if not self._csv.has_rows(name):
                raise SourceError(f"{self.file(name)} has a header but no rows; an empty extract is a failed export")

    def file(self, name: str) -> Path:
        return self.path / f"{name}.csv"

    def _header(self, name: str) -> dict[str, str]:
        found = self._csv.columns(name)
        lookup = headers.by_key(found)
        missing = [c for c in REQUIRED[name] if headers.key(c) not in lookup]
        if missing:
            raise SourceError(f"{self.file(name)}: column(s) {', '.join(missing)} missing; the header has {found}")
        return {c: lookup[headers.key(c)] for c in (*REQUIRED[name], *OPTIONAL[name]) if headers.key(c) in lookup}

    def header(self, name: str) -> dict[str, str]:
        """canonical column -> the header it was read from (for messages)."""
        return dict(self._headers[name])

    def raw(self, name: str) -> ir.Table:
        """Every known column as text under its canonical name (NULL where the file lacks an optional
        one), plus `_row` (the line in the file)."""
        names = self._headers[name]
        t = self._csv.raw(name, list(dict.fromkeys(names.values())))
        cols = {c: t[names[c]] if c in names else ibis.null("string") for c in (*REQUIRED[name], *OPTIONAL[name])}
        return t.select(ROW, **cols)

    def close(self) -> None:
        self._csv.close()
