"""A usage delivery: a people table and an events table, in a SQLite file (the seed's `data.db`) or a
folder of CSV files (`<table>.csv`), table and column names mapped in `sources.usage`.

Canonical columns (`config.USAGE_COLUMNS`): people `user_id, name, email, company, created_at`; events
`user_id, event_type, timestamp` at grain `event`, `user_id, month` at grain `month` (one row per
user and month active, months numbered 1, 2, ...). Only `user_id` and the event's time are required;
an optional column the source lacks is NULL for every row, unless `sources.usage.columns` names it
explicitly (then its absence is a typo, and an error). Headers match trimmed and case-insensitively.
Every column is read as text, so typing (and every reason a row is refused) is `usage.specs`'s.
"""

from __future__ import annotations

from pathlib import Path

import ibis
import ibis.expr.types as ir

from martops.config import UsageSourceSettings
from martops.engine import Warehouse
from martops.errors import SourceError
from martops.sources import headers
from martops.sources.csv_folder import CsvFolder
from martops.sources.sqlite import SqliteFile
from martops.sources.typed import ROW

READ = {
    ("event", "people"): ("user_id", "name", "email", "company", "created_at"),
    ("event", "events"): ("user_id", "event_type", "timestamp"),
    ("month", "people"): ("user_id", "name", "email", "company", "created_at"),
    ("month", "events"): ("user_id", "event_type", "month"),
}
"""(grain, role) -> the columns read."""
REQUIRED = {
    ("event", "people"): ("user_id",), ("event", "events"): ("user_id", "timestamp"),
    ("month", "people"): ("user_id",), ("month", "events"): ("user_id", "month"),
}
DEFAULTS = {
    ("people", "user_id"): ("user_id", "id"), ("people", "created_at"): ("created_at", "created", "signup_date"),
    ("events", "timestamp"): ("timestamp", "event_time", "time"), ("events", "event_type"): ("event_type", "type"),
}
"""(role, canonical column) -> the names tried in order when `sources.usage.columns` maps none (any
other column: its canonical name)."""
SETTING = "sources.usage"
SQLITE_MAGIC = b"SQLite format 3\x00"


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(16) == SQLITE_MAGIC
    except OSError as exc:
        raise SourceError(f"{path} cannot be read: {exc.strerror or exc}") from exc


class UsageSource:
    """The two tables of one delivery as text, under their canonical column names."""

    def __init__(self, wh: Warehouse, path: str | Path, settings: UsageSourceSettings | None = None):
        self.path = Path(path)
        self.settings = settings or UsageSourceSettings()
        self.grain = self.settings.grain
        if not self.path.exists():
            raise SourceError(f"{self.path} does not exist; expected a SQLite file or a folder of CSV files holding "
                              "a people table and an events table")
        if self.path.is_dir():
            self.reader: SqliteFile | CsvFolder = CsvFolder(wh, self.path, delimiter=self.settings.delimiter,
                                                            setting=SETTING)
        elif not self.path.is_file():
            raise SourceError(f"{self.path} is not a file or a folder; expected a SQLite file or a folder of CSV files")
        elif not _is_sqlite(self.path):
            raise SourceError(f"{self.path} is not a SQLite database (its first bytes are not 'SQLite format 3'); "
                              "give the SQLite file, or a folder of CSV files (people.csv, events.csv)")
        else:
            self.reader = SqliteFile(wh, self.path, alias="usage_src")
        try:
            self._names = {role: self._columns(role) for role in ("people", "events")}
            for role in ("people", "events"):
                if not self.reader.has_rows(self.table(role)):
                    raise SourceError(f"{self.where(role)} has no rows; an empty {role} table is a failed export, "
                                      "not a period without usage")
        except BaseException:
            self.reader.close()
            raise

    @property
    def is_sqlite(self) -> bool:
        return isinstance(self.reader, SqliteFile)

    def table(self, role: str) -> str:
        """The source's name of the role's table (`sources.usage.tables`, default the role)."""
        return self.settings.tables.get(role, role)  # type: ignore[call-overload]

    def where(self, role: str) -> str:
        """How messages name the table: the CSV file, or the SQLite file and table."""
        if self.is_sqlite:
            return f"{self.path}: table {self.table(role)!r}"
        return str(self.path / f"{self.table(role)}.csv")

    def place(self, role: str) -> tuple[str, str]:
        """(where, unit) a quarantine reason's place starts with: `events.csv line 7`, `table events rowid 7`."""
        return (f"table {self.table(role)}", "rowid") if self.is_sqlite else (f"{self.table(role)}.csv", "line")

    def _columns(self, role: str) -> dict[str, str]:
        name = self.table(role)
        existing = self.reader.tables()
        if not self.reader.has_table(name):
            shown = [f"{t}.csv" for t in existing] if not self.is_sqlite else existing
            what = f"{name}.csv" if not self.is_sqlite else repr(name)
            hint = "" if role in self.settings.tables else f" (set {SETTING}.tables.{role} to its name)"
            raise SourceError(f"{self.path}: the {role} table {what} is missing{hint}; the {self.reader.kind} "
                              f"has {sorted(shown) or 'none'}")
        found = self.reader.columns(name)
        lookup = headers.by_key(found)
        mapped = self.settings.columns.get(role, {})  # type: ignore[call-overload]
        out: dict[str, str] = {}
        for column in READ[(self.grain, role)]:
            tried = (mapped[column],) if column in mapped else DEFAULTS.get((role, column), (column,))
            wanted = next((name for name in tried if headers.key(name) in lookup), tried[0])
            if headers.key(wanted) in lookup:
                out[column] = lookup[headers.key(wanted)]
            elif column in REQUIRED[(self.grain, role)] or column in mapped:
                setting = f"{SETTING}.columns.{role}.{column}"
                said = f"column {wanted!r} ({setting})" if column in mapped else \
                    f"column {' or '.join(map(repr, tried))} (map another name with {setting})"
                monthly = self.grain == "event" and role == "events" and any(
                    headers.key(f) in ("month", "activity_month", "month_number") for f in found)
                hint = (f"; one row per person and month? set {SETTING}.grain: month" if monthly else "")
                raise SourceError(f"{self.where(role)} lacks {said}; it has {found}{hint}")
        return out

    def header(self, role: str) -> dict[str, str]:
        """canonical column -> the source's column (for messages)."""
        return dict(self._names[role])

    def raw(self, role: str) -> ir.Table:
        """Every canonical column as text (NULL where the source lacks an optional one), plus `_row`."""
        names = self._names[role]
        table = self.table(role)
        if isinstance(self.reader, SqliteFile):  # a non-UTF-8 text would hang DuckDB's trim
            self.reader.require_utf8(table, *names.values())
        t = self.reader.raw(table, list(dict.fromkeys(names.values())))
        cols = {c: t[names[c]].cast("string") if c in names else ibis.null("string")
                for c in READ[(self.grain, role)]}
        return t.select(ROW, **cols)

    def close(self) -> None:
        self.reader.close()
