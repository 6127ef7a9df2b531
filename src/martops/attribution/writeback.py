"""Write attribution results back into the source SQLite file, in the challenge's own schema.

Only the range that was run is replaced: the credits of conversions dated [since, until], and
channel_reporting for the dates the warehouse report spans. A user's DDL file (the challenge's
own, Python header and all) may create the output tables; see `challenge_schema`.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import duckdb

from martops.attribution import tables as T
from martops.attribution.challenge_schema import clean_ddl, default_ddl, split_statements
from martops.attribution.reporting import report_span
from martops.engine import Warehouse
from martops.errors import SourceError, StepError

ALIAS = "challenge_out"
OUTPUT_COLUMNS = {
    "attribution_customer_journey": ["conv_id", "session_id", "ihc"],
    "channel_reporting": ["channel_name", "date", "cost", "ihc", "ihc_revenue"],
}
def apply_ddl(db: Path, ddl_text: str, ddl_name: str) -> None:
    """Create the output tables if absent; a table that already exists is left as it is."""
    statements = split_statements(clean_ddl(ddl_text))
    if not statements:
        raise SourceError(f"{ddl_name}: no SQL statements found")
    con = sqlite3.connect(db)
    try:
        for stmt in statements:
            try:
                con.execute(stmt)
            except sqlite3.OperationalError as exc:
                if "already exists" not in str(exc):
                    raise SourceError(f"{ddl_name}: sqlite3 rejected {stmt[:60]!r}...: {exc}") from exc
        con.commit()
        for table, cols in OUTPUT_COLUMNS.items():
            have = [r[1] for r in con.execute(f"PRAGMA table_info('{table}')")]
            if not have:
                raise SourceError(f"{ddl_name} did not create table {table!r} in {db}")
            missing = [c for c in cols if c not in have]
            if missing:
                raise SourceError(f"{db}: table {table!r} lacks column(s) {missing}; it has {have}")
    finally:
        con.close()


def read_ddl(path: Path) -> str:
    """The text of a `--ddl` file; SourceError naming it when it is missing, a folder or not text."""
    try:
        return path.read_text("utf-8")
    except FileNotFoundError:
        raise SourceError(f"--ddl {path} does not exist; give the DDL file (e.g. the challenge's "
                          "challenge_db_create.sql), or leave --ddl out to use the built-in one") from None
    except IsADirectoryError:
        raise SourceError(f"--ddl {path} is a directory; give the DDL file itself") from None
    except OSError as exc:
        raise SourceError(f"--ddl {path} cannot be read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise SourceError(f"--ddl {path} is not UTF-8 text (byte {exc.start}); is it the right file?") from None


def write_back(
    wh: Warehouse, db: str | Path, model: str, since: dt.date, until: dt.date, ddl: str | Path | None = None,
) -> dict:
    db = Path(db)
    if not db.exists():
        raise SourceError(f"SQLite database {db} does not exist")
    if not wh.exists(T.CHANNEL_REPORTING):
        raise StepError("no channel_reporting in the warehouse; run `martops attribution report` first")
    ddl_text = read_ddl(Path(ddl)) if ddl else default_ddl()
    apply_ddl(db, ddl_text, str(ddl) if ddl else "built-in challenge DDL")
    start, end, _ = report_span(wh, model)
    wh.attach_sqlite(db, ALIAS, read_only=False)
    acj, cr = f"{ALIAS}.attribution_customer_journey", f"{ALIAS}.channel_reporting"
    try:
        n_acj, n_cr = _replace_outputs(wh, acj, cr, model, since, until, start, end)
    except duckdb.Error as exc:
        raise SourceError(
            f"write-back into {db} failed and was rolled back (the file is as it was): {exc}"
        ) from exc
    finally:
        wh.detach(ALIAS)
    return {"attribution_customer_journey": n_acj, "channel_reporting": n_cr}


def _replace_outputs(wh: Warehouse, acj: str, cr: str, model: str, since: dt.date, until: dt.date,
                     start: dt.date, end: dt.date) -> tuple[int, int]:
    """One transaction on the attached SQLite file: both tables change, or neither does."""
    with wh.transaction():
        wh.execute(
            f"DELETE FROM {acj} WHERE conv_id IN "
            f"(SELECT conv_id FROM {ALIAS}.conversions WHERE conv_date BETWEEN ? AND ?)",
            [since.isoformat(), until.isoformat()],
        )
        wh.execute(
            f"INSERT INTO {acj} (conv_id, session_id, ihc) SELECT conv_id, session_id, ihc "
            f"FROM {wh.quoted(T.CUSTOMER_JOURNEY)} WHERE model = ? AND conv_date BETWEEN ? AND ?",
            [model, since, until],
        )
        n_acj = int(wh.execute(
            f"SELECT count(*) FROM {acj} WHERE conv_id IN "
            f"(SELECT conv_id FROM {ALIAS}.conversions WHERE conv_date BETWEEN ? AND ?)",
            [since.isoformat(), until.isoformat()],
        )[0][0])
        wh.execute(f"DELETE FROM {cr} WHERE date BETWEEN ? AND ?", [start.isoformat(), end.isoformat()])
        wh.execute(
            f"INSERT INTO {cr} (channel_name, date, cost, ihc, ihc_revenue) "
            f"SELECT channel_name, strftime(date, '%Y-%m-%d'), cost, ihc, ihc_revenue "
            f"FROM {wh.quoted(T.CHANNEL_REPORTING)} WHERE model = ?",
            [model],
        )
        n_cr = int(wh.execute(
            f"SELECT count(*) FROM {cr} WHERE date BETWEEN ? AND ?", [start.isoformat(), end.isoformat()]
        )[0][0])
    return n_acj, n_cr
