"""Flags and helpers every command group shares: the project file, the warehouse, dates."""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
from pathlib import Path
from typing import Iterator, Optional

import typer

from martops.config import ProjectConfig, load_config
from martops.engine import Warehouse, connect
from martops.engines.location import resolve
from martops.errors import ConfigError

WAREHOUSE = typer.Option(None, "--warehouse", "-w", help="A DuckDB file, postgresql://user@host:port/database (password from PGPASSWORD or ~/.pgpass), or spark:DIR (a Spark warehouse folder) (default: martops.yml's, else ./warehouse.duckdb).")
CONFIG = typer.Option(None, "--config", "-c", help="Project file (default: ./martops.yml if present).")
FORCE = typer.Option(False, "--force", help="Overwrite output files that already exist.")


def refuse_overwrite(force: bool, *outputs: tuple[str, Optional[Path]]) -> None:
    """Before any work: ConfigError naming the first output (flag, path) that already exists as a
    file, unless `force`. Called by every command that writes a file; None paths are skipped."""
    for flag, path in outputs:
        if path is not None and not force and Path(path).is_file():
            raise ConfigError(f"{flag} {path} already exists; pass --force to overwrite it")


def parse_date(value: Optional[str], flag: str) -> Optional[dt.date]:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{flag} {value!r} is not a date; use YYYY-MM-DD, e.g. 2023-09-01") from None


def parse_moment(value: Optional[str], flag: str) -> dt.datetime:
    """A moment given on the command line (ISO 8601; without an offset it is UTC), aware; now when None."""
    if value is None:
        return dt.datetime.now(dt.timezone.utc)
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(f"{flag} {value!r} is not a date and time; use ISO 8601, e.g. 2024-03-30T12:00 "
                          "(UTC) or 2024-03-30T12:00+01:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def parse_range(since: Optional[str], until: Optional[str]) -> tuple[Optional[dt.date], Optional[dt.date]]:
    """--since/--until, either optional; since after until is a flag error (as attribution's)."""
    s, u = parse_date(since, "--since"), parse_date(until, "--until")
    if s is not None and u is not None and s > u:
        raise ConfigError(f"--since {s} is after --until {u}")
    return s, u


BUILDS = {
    "attribution": "build it first: martops attribution run --db <challenge.db> --since ... --until ...",
    "kpis": "build it first: martops kpis build --source <folder of exports>",
    "crm": "build it first: martops crm build --source <folder of the CRM extract>",
    "loyalty": "build it first: martops loyalty build --source <folder with customers.csv and transactions.csv>",
    "usage": "build it first: martops usage build --source <data.db or folder with people and events>",
    "leads": "score leads first: martops leads score --input <leads.csv>",
}
"""What to run when a command of a domain finds no warehouse (the end of the error's line)."""


def open_warehouse(config: Optional[Path], warehouse: Optional[str], *, create: bool = False,
                   domain: Optional[str] = None, read_only: bool = False) -> tuple[ProjectConfig, Warehouse]:
    """The project file and the warehouse. Only commands that load data pass `create=True`; for
    every other one a missing warehouse file is an error (ending with what builds the `domain`'s
    tables), so a mistyped --warehouse creates nothing. Commands that only read pass
    `read_only=True`: they write nothing and work while a pipeline holds the write lock (they then
    read the warehouse as of the pipeline's last commit, and say so on stderr)."""
    cfg = load_config(config)
    return cfg, connect_warehouse(cfg, warehouse, create=create, domain=domain, read_only=read_only)


def connect_warehouse(cfg: ProjectConfig, warehouse: Optional[str], *, create: bool = False,
                      domain: Optional[str] = None, read_only: bool = False) -> Warehouse:
    """The warehouse of `--warehouse`, else the project file's (see `open_warehouse`)."""
    hint = BUILDS.get(domain or "")
    kw = {"path": warehouse} if warehouse is not None else {}  # an empty --warehouse is an error, not the default
    wh = connect(cfg.warehouse, create=create, build_hint=hint, read_only=read_only, **kw)
    if wh.reading_copy is not None:
        from martops.cli.render import console_err

        console_err.print(f"note: {wh.location} is being written by another process; showing it as of that "
                          "process's last commit", highlight=False, soft_wrap=True)
    return wh




@contextlib.contextmanager
def writable_warehouse(cfg: ProjectConfig, warehouse: Optional[str]) -> Iterator[Warehouse]:
    """The warehouse for a command that loads data (created if missing), closed at the end.

    When the command fails before it loaded anything (a missing source folder, a bad file found
    after the warehouse was opened), a warehouse file it created is removed again with the folders
    made for it, so a failed command leaves nothing behind. "Anything" is a table outside `ops`,
    or quarantined rows (they explain a failed load): then the warehouse stays, with the
    failure in ops.runs.
    """
    where = resolve(warehouse, cfg.warehouse.engine, cfg.warehouse.path, cfg.warehouse.dsn, cfg.warehouse.warehouse_dir)
    path = Path(where.target)
    made = [d for d in [path, *path.parents] if not d.exists()] if where.engine == "duckdb" else []
    wh = connect_warehouse(cfg, warehouse, create=True)
    try:
        with wh:
            try:
                yield wh
            except BaseException:
                discard = getattr(wh, "discard_if_empty", None)
                if discard is not None:
                    discard()  # a server warehouse: the schemas a failed first build created
                raise
    except BaseException:
        if made and path.exists() and not _holds_data(path):
            for leftover in (path, path.with_name(path.name + ".wal")):
                leftover.unlink(missing_ok=True)
            for folder in made[1:]:
                shutil.rmtree(folder, ignore_errors=True)
        raise


def _holds_data(path: Path) -> bool:
    import duckdb

    try:
        with duckdb.connect(str(path), read_only=True) as con:
            tables = {f"{s}.{t}" for s, t in con.execute(
                "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database()"
            ).fetchall()}
            kept = "ops.quarantine" in tables and con.execute("SELECT count(*) FROM ops.quarantine").fetchone()[0]
            return bool(kept) or any(not t.startswith("ops.") for t in tables)
    except duckdb.Error:
        return True  # cannot tell: keep it
