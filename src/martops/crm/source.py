"""A CRM delivery as a source: a folder holding one CSV file per role (customers, transactions, ...).

Files default to `<role>.csv`; `crm.files` names others. Headers are matched trimmed and
case-insensitively to the canonical column names below (or to the header `crm.columns` maps a
canonical name to); extra columns are ignored; a missing column is an error naming the file, the
column and the header it has. Every column is read as text (by `sources.csv_files`, the reader of
every domain) and only an empty cell is NULL, so ids keep their leading zeros and `NA` stays a value.
`_row` is the physical line where the record starts (header = line 1). A role's file that is a
directory or unreadable is an error, never a role silently skipped.

Only `customers` is required (a delivery without it is an error naming the file). Every other
role is optional: a role a delivery leaves out keeps the rows of the last delivery that held it,
and foreign keys are checked against the products and sales team in the warehouse; where a parent
was never delivered the `orphan_<fk>` flag is NULL (not checked) and the log says so.
"""

from __future__ import annotations

from pathlib import Path

import ibis.expr.types as ir

from martops.config import SourceSettings
from martops.crm.tables import REQUIRED, ROLES
from martops.engine import Warehouse
from martops.errors import SourceError
from martops.sources import headers
from martops.sources.csv_files import check_readable
from martops.sources.csv_folder import CsvFolder
from martops.sources.typed import ROW

COLUMNS: dict[str, dict[str, str]] = {
    "customers": {"customer_id": "customer_id", "name": "name", "email": "email", "phone": "phone",
                  "country": "country"},
    "transactions": {"transaction_id": "transaction_id", "customer_id": "customer_id", "product_id": "product_id",
                     "date": "date", "amount": "amount", "sales_rep_id": "sales_rep_id"},
    "products": {"product_id": "product_id", "product_name": "product_name", "category": "category",
                 "price": "price"},
    "interactions": {"interaction_id": "interaction_id", "customer_id": "customer_id", "date": "interaction_date",
                     "type": "interaction_type", "resolved": "issue_resolved"},
    "sales_team": {"sales_rep_id": "sales_rep_id", "name": "name", "region": "region",
                   "sales_target": "sales_target", "sales_achieved": "sales_achieved"},
    "countries": {"country": "country", "dialling_code": "country_code"},
}
"""Role -> canonical column -> the header it is found under by default (case-insensitive)."""
OPTIONAL: dict[str, dict[str, str]] = {"transactions": {"quantity": "quantity"}}
"""Columns read when the file has them: with a quantity, a blank amount is price x quantity."""


SETTING = "sources.crm"


class _RoleFiles(CsvFolder):
    """CsvFolder addressing files by role, whatever the delivery calls them."""

    def __init__(self, wh: Warehouse, path: Path, files: dict[str, str], delimiter: str):
        super().__init__(wh, path, delimiter=delimiter, setting=SETTING)
        self.files = files

    def _file(self, table: str) -> Path:
        return self.path / self.files[table]


class CrmFolder:
    def __init__(self, wh: Warehouse, folder: str | Path, files: dict[str, str] | None = None,
                 columns: dict[str, dict[str, str]] | None = None, settings: SourceSettings | None = None):
        self.path = Path(folder)
        self.settings = settings or SourceSettings()
        if not self.path.is_dir():
            raise SourceError(f"{self.path} is not a folder; expected a folder holding customers.csv and "
                              f"optionally {', '.join(r + '.csv' for r in ROLES if r not in REQUIRED)}")
        files, columns = dict(files or {}), dict(columns or {})
        unknown = sorted(set(files) - set(ROLES)) + sorted(set(columns) - set(ROLES))
        if unknown:
            raise SourceError(f"unknown CRM role(s) {unknown} in crm.files/crm.columns; roles are {list(ROLES)}")
        names = {role: files.get(role, f"{role}.csv") for role in ROLES}
        self.roles = [r for r in ROLES if (self.path / names[r]).exists()]
        for role in self.roles:
            # a directory or unreadable file is an error: skipping it would keep the previous
            # delivery's rows of the role as if they were current
            p = self.path / names[role]
            if not p.is_file():
                raise SourceError(f"{p} is a {'directory' if p.is_dir() else 'special file'}; expected a CSV file "
                                  f"(the {role} file): move it away or name the {role} file with crm.files in martops.yml")
            check_readable(p)
        for role in REQUIRED:
            if role not in self.roles:
                raise SourceError(f"{self.path / names[role]} is missing; a CRM delivery needs its {role} file "
                                  f"(files found: {sorted(p.name for p in self.path.iterdir() if p.is_file()) or 'none'}"
                                  "); name another file with crm.files in martops.yml")
        self.files = {r: names[r] for r in self.roles}
        self._csv = _RoleFiles(wh, self.path, self.files, self.settings.delimiter)
        self._headers = {r: self._header(r, columns.get(r, {})) for r in self.roles}
        for role in self.roles:
            if not self._csv.has_rows(role):
                raise SourceError(f"{self.file(role)} has a header but no rows; an empty extract is a failed "
                                  "export (leave the file out of the delivery to skip it)")

    def _header(self, role: str, mapped: dict[str, str]) -> dict[str, str]:
        """canonical name -> the file's spelling, after checking every expected column is there."""
        found = self._csv.columns(role)
        lower = headers.by_key(found)
        stray = sorted(set(mapped) - set(COLUMNS[role]) - set(OPTIONAL.get(role, {})))
        if stray:
            raise SourceError(f"crm.columns.{role}: {stray} are not columns of {role}; its columns are "
                              f"{list(COLUMNS[role]) + list(OPTIONAL.get(role, {}))}")
        want = {c: mapped.get(c, h).strip().lower() for c, h in COLUMNS[role].items()}
        missing = {c: h for c, h in want.items() if h not in lower}
        if missing:
            shown = ", ".join(f"{c} (header {h!r})" for c, h in missing.items())
            raise SourceError(f"{self.file(role)}: column(s) {shown} missing; the header has {found}. "
                              f"Map the file's own headers with crm.columns.{role} in martops.yml")
        out = {c: lower[h] for c, h in want.items()}
        for c, h in OPTIONAL.get(role, {}).items():
            h = mapped.get(c, h).strip().lower()
            if h in lower:
                out[c] = lower[h]
        return out

    def header(self, role: str) -> dict[str, str]:
        """canonical column -> the header it was read from (for messages)."""
        return dict(self._headers[role])

    def raw(self, role: str) -> ir.Table:
        """Every mapped column as text under its canonical name, plus `_row` (the line in the file)."""
        names = self._headers[role]
        t = self._csv.raw(role, list(dict.fromkeys(names.values())))
        return t.select(ROW, **{c: t[h] for c, h in names.items()})

    def file(self, role: str) -> Path:
        return self.path / self.files[role] if role in self.files else self.path / f"{role}.csv"

    def close(self) -> None:
        self._csv.close()
