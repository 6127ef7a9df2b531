"""The attribution challenge's SQLite schema: one home for its DDL and for reading DDL files.

The challenge ships its DDL with a Python-style header (coding line, docstring) that sqlite3
rejects; `clean_ddl` strips it, so a user's copy of that file works as given.
"""

from __future__ import annotations

import re
import sqlite3
from importlib import resources

from martops.errors import SourceError

SOURCE_TABLES = ("conversions", "session_costs", "session_sources")
OUTPUT_TABLES = ("attribution_customer_journey", "channel_reporting")
_DOCSTRING = re.compile(r'("""|\'\'\').*?\1', re.S)
_CREATE = re.compile(r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", re.I)


def default_ddl() -> str:
    return resources.files("martops.attribution").joinpath("sql/challenge_schema.sql").read_text("utf-8")


def clean_ddl(text: str) -> str:
    """Drop Python comment lines and triple-quoted blocks; keep the SQL statements."""
    text = _DOCSTRING.sub("", text)
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def split_statements(sql: str) -> list[str]:
    statements, buf = [], ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                statements.append(buf.strip())
            buf = ""
    if buf.strip() and not buf.strip().startswith("--"):
        raise SourceError(f"DDL ends with an incomplete statement: {buf.strip()[:80]!r}")
    return statements


def created_table(statement: str) -> str | None:
    m = _CREATE.search(statement)
    return m.group(1) if m else None


def create_tables(con: sqlite3.Connection, tables: tuple[str, ...], ddl_text: str | None = None) -> None:
    """Run the CREATE TABLE statements of `tables` from the DDL (default: the built-in one)."""
    for stmt in split_statements(clean_ddl(ddl_text or default_ddl())):
        if created_table(stmt) in tables:
            con.execute(stmt)
