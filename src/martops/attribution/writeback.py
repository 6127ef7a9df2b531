"""Write attribution results back into the source SQLite file, in the challenge's own schema.

The credits of conversions dated [since, until] are replaced; the file's other credits stay.
`channel_reporting` in the file is then rebuilt from the file's own `attribution_customer_journey`
(every range written so far, by whichever run), so the two tables always agree: writing range B
keeps range A's rows, and writing A again changes nothing. The channels, dates and revenue of those
credits come from this warehouse's journeys; a credit this warehouse cannot place fails the
write-back and nothing changes. A user's DDL file (the challenge's own, Python header and all) may
create the output tables; see `challenge_schema`.

The challenge's tables have no model column, so the file records which model wrote each
conversion's credits in a table of its own, `martops_credit_models` (conv_id, model): a write-back
whose model differs from the model of credits it keeps (other ranges') is refused, since the one
channel_reporting rebuilt from all of them would mix two models under one `ihc` column; the same
goes for kept credits with no recorded model (written by something else). Writing the whole span
with one model replaces them all.

An unknown cost (see `costs`) is written as NULL. The challenge's own DDL declares
`channel_reporting.cost NOT NULL`; into such a table a row with an unknown cost cannot be written
without inventing a number, so the write-back fails saying so (the built-in DDL allows NULL).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
from pathlib import Path

import duckdb
import ibis

from martops.attribution import tables as T
from martops.attribution.challenge_schema import clean_ddl, default_ddl, split_statements
from martops.attribution.reporting import as_date, report_expr, report_span
from martops.engine import Warehouse
from martops.errors import SourceError, StepError
from martops.textfiles import read_text

ALIAS = "challenge_out"
MODELS_TABLE = "martops_credit_models"
OUTPUT_COLUMNS = {
    "attribution_customer_journey": ["conv_id", "session_id", "ihc"],
    "channel_reporting": ["channel_name", "date", "cost", "ihc", "ihc_revenue"],
}


@dataclasses.dataclass(frozen=True)
class Target:
    db: Path
    cost_nullable: bool
    """False when the file's channel_reporting declares cost NOT NULL (the challenge's DDL)."""


def apply_ddl(db: Path, ddl_text: str, ddl_name: str) -> Target:
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
        info = {}
        for table, cols in OUTPUT_COLUMNS.items():
            info[table] = {r[1]: r for r in con.execute(f"PRAGMA table_info('{table}')")}
            have = list(info[table])
            if not have:
                raise SourceError(f"{ddl_name} did not create table {table!r} in {db}")
            missing = [c for c in cols if c not in have]
            if missing:
                raise SourceError(f"{db}: table {table!r} lacks column(s) {missing}; it has {have}")
    finally:
        con.close()
    return Target(db, cost_nullable=not info["channel_reporting"]["cost"][3])


def read_ddl(path: Path) -> str:
    """The text of a `--ddl` file; SourceError naming it when it is missing, a folder or not text."""
    return read_text(path, "--ddl", SourceError,
                     missing="give the DDL file (e.g. the challenge's challenge_db_create.sql), "
                             "or leave --ddl out to use the built-in one",
                     directory="give the DDL file itself")


def require_sqlite_file(db: Path) -> None:
    """Write-back writes into the SQLite file the data came from; a folder of CSV files (also a
    valid source for ingest) has no such file, so this fails before any step runs."""
    if db.is_dir():
        raise SourceError(f"--write-back needs the challenge's SQLite file; {db} is a folder of CSV files")


def write_back(
    wh: Warehouse, db: str | Path, model: str, since: dt.date, until: dt.date, ddl: str | Path | None = None,
) -> dict:
    db = Path(db)
    if not db.exists():
        raise SourceError(f"SQLite database {db} does not exist")
    require_sqlite_file(db)
    if not wh.exists(T.CHANNEL_REPORTING):
        raise StepError("no channel_reporting in the warehouse; run `martops attribution report` first")
    ddl_text = read_ddl(Path(ddl)) if ddl else default_ddl()
    target = apply_ddl(db, ddl_text, str(ddl) if ddl else "built-in challenge DDL")
    report_span(wh, model)  # fails clearly when nothing was attributed with the model
    ranges = wh.table(T.RANGES)
    end = as_date(wh.scalar(ranges.until.max()))  # any model's: the file's credits may come from several
    wh.attach_sqlite(db, ALIAS, read_only=False)
    try:
        return _replace_outputs(wh, target, model, since, until, max(end, until))
    except duckdb.Error as exc:
        raise SourceError(
            f"write-back into {db} failed and was rolled back (the file is as it was): {exc}"
        ) from exc
    finally:
        wh.detach(ALIAS)


def _file_credits(wh: Warehouse) -> tuple[ibis.Table, ibis.Table]:
    """(placed, unplaced): the file's credits with their session's channel and date and the
    conversion's revenue from this warehouse's journeys, and those it has no journey row for."""
    acj = wh.loader_sql(f"SELECT CAST(conv_id AS VARCHAR) AS conv_id, CAST(session_id AS VARCHAR) AS session_id, "
                        f"CAST(ihc AS DOUBLE) AS ihc FROM {ALIAS}.attribution_customer_journey")
    j = wh.to_loader(wh.table(T.JOURNEYS).select("conv_id", "session_id", "conv_date", "channel_name", "event_date",
                                                 "revenue"))
    placed = acj.join(j, ["conv_id", "session_id"])
    return placed, acj.anti_join(j, ["conv_id", "session_id"])


def _replace_outputs(wh: Warehouse, target: Target, model: str, since: dt.date, until: dt.date,
                     end: dt.date) -> dict:
    """One transaction on the attached SQLite file: both tables change, or neither does. The file is
    attached to the loader, so the warehouse's rows it needs are brought there (`to_loader`: the
    same tables on DuckDB, a copy from any other engine)."""
    acj, cr = f"{ALIAS}.attribution_customer_journey", f"{ALIAS}.channel_reporting"
    conv = wh.table(T.CONVERSIONS)
    in_range = wh.compile(wh.to_loader(conv.filter(conv.conv_date.between(since, until)).select("conv_id")))
    cj = wh.table(T.CUSTOMER_JOURNEY)
    credits = wh.to_loader(cj.filter((cj.model == model) & cj.conv_date.between(since, until))
                           .select("conv_id", "session_id", "ihc"))
    with wh.loader_transaction():
        wh.loader_execute(
            f"DELETE FROM {acj} WHERE conv_id IN "
            f"(SELECT conv_id FROM {ALIAS}.conversions WHERE conv_date BETWEEN ? AND ?) "
            f"OR conv_id IN ({in_range})",
            [since.isoformat(), until.isoformat()],
        )
        n_acj = wh.loader_execute(
            f"INSERT INTO {acj} (conv_id, session_id, ihc) SELECT conv_id, session_id, ihc "
            f"FROM ({wh.compile(credits)}) AS credits")[0][0]
        wh.loader_execute(f"CREATE TABLE IF NOT EXISTS {ALIAS}.{MODELS_TABLE} (conv_id TEXT, model TEXT)")
        models = f"{ALIAS}.{MODELS_TABLE}"  # rows of replaced credits go; the kept credits' rows stay
        wh.loader_execute(f"DELETE FROM {models} WHERE NOT EXISTS (SELECT 1 FROM {acj} a WHERE a.conv_id = "
                          f"{models}.conv_id) OR conv_id IN (SELECT conv_id FROM ({wh.compile(credits)}))")
        wh.loader_execute(f"INSERT INTO {models} (conv_id, model) SELECT DISTINCT conv_id, ? "
                          f"FROM ({wh.compile(credits)}) AS credits", [model])
        placed, unplaced = _file_credits(wh)
        lost = wh.to_pyarrow(unplaced.aggregate(n=unplaced.count(), conversions=unplaced.conv_id.nunique(),
                                                example=unplaced.conv_id.min())).to_pylist()[0]
        if lost["n"]:
            raise StepError(
                f"{target.db}: attribution_customer_journey holds {lost['n']:,} credit(s) of {lost['conversions']:,} "
                f"conversion(s) this warehouse has no journey for (e.g. conv_id {lost['example']!r}), so "
                "channel_reporting could not be made to agree with it. Write back from the warehouse that "
                "attributed them, or run their range into this one. Nothing was written."
            )
        _refuse_mixed_models(wh, target, model, since, until)
        span = wh.to_pyarrow(placed.aggregate(start=placed.event_date.min(), last=placed.conv_date.max())).to_pylist()[0]
        start = span["start"] or end
        report = report_expr(wh.to_loader(wh.table(T.SESSIONS)), placed, start, max(end, span["last"] or end), model)
        if not target.cost_nullable:
            _refuse_unknown_costs(wh, target, report)
        wh.loader_execute(f"DELETE FROM {cr}")
        n_cr = wh.loader_execute(
            f"INSERT INTO {cr} (channel_name, date, cost, ihc, ihc_revenue) "
            f"SELECT channel_name, strftime(date, '%Y-%m-%d'), cost, ihc, ihc_revenue FROM ({wh.compile(report)})"
        )[0][0]
    return {"attribution_customer_journey": int(n_acj), "channel_reporting": int(n_cr)}


def _refuse_mixed_models(wh: Warehouse, target: Target, model: str, since: dt.date, until: dt.date) -> None:
    """StepError when credits the write-back keeps were written with another model, or with none recorded."""
    other = wh.loader_execute(
        f"SELECT coalesce(m.model, '(none recorded)') AS model, count(DISTINCT a.conv_id), min(a.conv_id) "
        f"FROM {ALIAS}.attribution_customer_journey a LEFT JOIN {ALIAS}.{MODELS_TABLE} m USING (conv_id) "
        f"WHERE m.model IS DISTINCT FROM ? GROUP BY 1 ORDER BY 1", [model])
    if other:
        found = "; ".join(f"{n:,} conversion(s) by {m} (e.g. conv_id {ex!r})" for m, n, ex in other)
        raise StepError(
            f"{target.db}: attribution_customer_journey keeps credits outside {since}..{until} written with another "
            f"model than {model}: {found}. Its channel_reporting has no model column, so one report would mix "
            f"models: write back with that model, or write the whole span with --model {model}. Nothing was written."
        )


def _refuse_unknown_costs(wh: Warehouse, target: Target, report: ibis.Table) -> None:
    unknown = report.filter(report.cost.isnull())
    found = wh.to_pyarrow(unknown.order_by(["date", "channel_name"]).limit(1)).to_pylist()
    if found:
        n = int(wh.scalar(unknown.count()))
        ex = found[0]
        raise StepError(
            f"{target.db}: channel_reporting.cost is declared NOT NULL, but {n:,} (channel, date) row(s) have an "
            f"unknown cost (e.g. {ex['channel_name']!r} on {ex['date']}: every session's cost row is empty or "
            "was quarantined). Writing 0 would be a wrong number: recreate channel_reporting without NOT NULL "
            "on cost (the built-in DDL does), or deliver those costs. Nothing was written."
        )
