"""SCD type 2 snapshots: keep every version of a fact, so late corrections never erase history.

A snapshot row is one version of one fact: `valid_from` is the load that brought it, `valid_to`
the load that superseded it (NULL while it is current). A delivery is merged as dbt's `check`
strategy does: a fact whose values (their hash) changed gets a new version and its old one is
closed; an unchanged fact is left alone, so re-running a delivery adds nothing (idempotent).

Why `check` and not dbt's `timestamp` strategy on `_etl_loaded_at`: martops stamps
`_etl_loaded_at` itself on every load, so a timestamp strategy would version every re-run.

A fact absent from a delivery stays current: exports are often partial windows (the last 7 days
re-sent), and absence there means "not re-sent", not "deleted". A fact re-delivered under a new
key at the same grain (a campaign renamed in the dictionary) closes the old key's version, so
there is at most one current version per grain.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import ibis
import ibis.expr.types as ir
import sqlglot as sg

from martops.engine import Warehouse

NULL_TOKEN = "_martops_null_"


@ibis.udf.scalar.builtin(name="md5")
def _md5(value: str) -> str:  # DuckDB, PostgreSQL and Spark all have md5(text) -> hex text
    ...


def surrogate_key(t: ir.Table, columns: list[str]) -> ir.StringValue:
    """md5 of the columns as text joined by '|', NULL as a token (dbt_utils.generate_surrogate_key's
    recipe): deterministic, engine-independent, and NULL-safe."""
    parts = [_text(t[c]).fill_null(NULL_TOKEN) for c in columns]
    return _md5(ibis.literal("|").join(parts))


def _text(v: ir.Value) -> ir.StringValue:
    """The value as text, the same on every engine. A float is written as DuckDB writes it (the
    shortest text that reads back the same); PostgreSQL writes the same digits but drops the '.0'
    of a whole number (110 for 110.0), so whole numbers are spelled out here."""
    if not v.type().is_floating():
        return v.cast("string")
    whole = (v.abs() < 1e15) & (v == v.floor())
    return ibis.cases((v.isnan(), ibis.literal("nan")), (v.isinf() & (v > 0), ibis.literal("inf")),
                      (v.isinf(), ibis.literal("-inf")),
                      (whole, v.cast("int64").cast("string") + ".0"), else_=v.cast("string"))


@dataclasses.dataclass(frozen=True)
class MergeResult:
    new: int
    changed: int
    unchanged: int


def merge(wh: Warehouse, name: str, incoming: ir.Table, *, key: str, grain: list[str], values_hash: str,
          loaded_at: dt.datetime, run_id: str) -> MergeResult:
    """Merge one delivery (one row per grain) into snapshot `name`, inside the caller's transaction."""
    stamped = incoming.mutate(valid_from=ibis.literal(loaded_at, type="timestamp"),
                              valid_to=ibis.null("timestamp"), _run_id=ibis.literal(run_id))
    wh.ensure_table(name, stamped.schema())
    snap = wh.table(name)
    current = snap.filter(snap.valid_to.isnull())
    cur = current.select(*grain, _key=current[key], _hash=current[values_hash])
    j = incoming.select(*grain, key, values_hash).inner_join(cur, grain)
    superseded = j.filter((j[key] != j._key) | (j[values_hash] != j._hash)).select(_key=j._key)
    counts = wh.to_pyarrow(ibis.memtable({"_": [0]}).select(
        incoming=incoming.count().as_scalar(), matched=j.count().as_scalar(),
        superseded=superseded.count().as_scalar(),
    )).to_pylist()[0]
    if counts["superseded"]:
        ident = sg.to_identifier(key, quoted=True).sql(wh.dialect)
        wh.execute(f"UPDATE {wh.quoted(name)} SET valid_to = ? WHERE valid_to IS NULL AND {ident} IN "
                   f"(SELECT _key FROM ({wh.compile(superseded)}) AS superseded)", [loaded_at])
    snap = wh.table(name)
    still = snap.filter(snap.valid_to.isnull())
    fresh = stamped.anti_join(still, [stamped[key] == still[key], stamped[values_hash] == still[values_hash]])
    wh.insert(name, fresh.select(*wh.table(name).columns))
    return MergeResult(new=counts["incoming"] - counts["matched"], changed=counts["superseded"],
                       unchanged=counts["matched"] - counts["superseded"])


def current(wh: Warehouse, name: str) -> ir.Table:
    t = wh.table(name)
    return t.filter(t.valid_to.isnull())
