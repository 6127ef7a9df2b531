"""Reading the warehouse for a workflow: who is newly triggered (from the stored watermark) and for
whom a condition holds, both as of the run's clock.

Tables and columns come from martops.yml, so each is checked against the warehouse before any
row is read, and a mistake is a ConfigError naming the key (`workflows.onboarding.trigger.key`),
the table and its columns. Values in `where` are compared with the column's own type: `true` with a
boolean column, `won` with a text one, `2024-06-01` with a date; a value the column cannot hold is
an error, not an empty match.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import ibis
import ibis.expr.types as ir

from martops.config_workflows import Condition, Trigger, Workflow
from martops.engine import Warehouse
from martops.errors import ConfigError
from martops.workflows import tables as T
from martops.workflows.store import jsonable

IN_CHUNK = 1000
LISTED = 12
"""A `where` value no row holds: the column's values are listed when it has at most this many."""
"""Entity ids per `IN (...)` list when a condition is counted for many entities."""


def kind(dtype: Any) -> str:
    """A column's type as the trigger reads it: time, date, number, bool or text."""
    if dtype.is_timestamp():
        return "time"
    if dtype.is_date():
        return "date"
    if dtype.is_boolean():
        return "bool"
    if dtype.is_numeric():
        return "number"
    return "text"


def typed(value: Any, dtype: Any, where: str) -> Any:
    """`value` (from martops.yml or a stored watermark) as the column's type; ConfigError naming `where`."""
    k = kind(dtype)
    ok = {"bool": isinstance(value, bool), "text": isinstance(value, str),
          "number": isinstance(value, (int, float)) and not isinstance(value, bool)}
    if k in ok:
        if k == "number" and isinstance(value, str):
            try:
                value = float(value) if any(c in value for c in ".eE") else int(value)
                ok[k] = True
            except ValueError:
                pass
        if ok[k]:
            if k == "number" and dtype.is_integer() and isinstance(value, float) and not value.is_integer():
                raise ConfigError(f"{where}: {value!r} can never equal a value of a {dtype} column (whole numbers); "
                                  "give a whole number")
            return value
        raise ConfigError(f"{where}: {value!r} cannot be compared with a {dtype} column; give a "
                          f"{'true/false' if k == 'bool' else 'number' if k == 'number' else 'text'} value")
    try:
        if isinstance(value, dt.datetime):
            moment = value
        elif isinstance(value, dt.date):
            moment = dt.datetime.combine(value, dt.time())
        elif isinstance(value, str):
            moment = dt.datetime.fromisoformat(value.strip())
        else:
            raise ValueError
    except ValueError:
        raise ConfigError(f"{where}: {value!r} is not a date or time for a {dtype} column; write it as YYYY-MM-DD "
                          "or YYYY-MM-DD HH:MM:SS") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return moment.date() if k == "date" else moment


def _column(t: ir.Table, table: str, column: str, where: str) -> ir.Column:
    if column not in t.columns:
        raise ConfigError(f"{where}: {table} has no column {column!r}; its columns: {', '.join(t.columns)}")
    return t[column]


def _table(wh: Warehouse, table: str, where: str) -> ir.Table:
    if not wh.exists(table):
        from martops import domains  # the registry names the step that writes a table

        writer = domains.graph().writer(table)
        hint = f"run {writer} first (martops run {writer})" if writer else "check the name (`martops tables` lists them)"
        raise ConfigError(f"{where}: {table} is not in the warehouse {wh.location}; {hint}")
    return wh.table(table)


def _filtered(t: ir.Table, table: str, where: dict, key: str) -> ir.Table:
    for column, want in where.items():
        col = _column(t, table, column, f"{key}.{column}")
        values = want if isinstance(want, list) else [want]
        typed_values = [typed(v, col.type(), f"{key}.{column}") for v in values if v is not None]
        test = col.isin(typed_values) if len(typed_values) > 1 else col == typed_values[0] if typed_values else None
        if None in values:  # null: the column is empty (`test_reason: null`, no test account)
            test = col.isnull() if test is None else test | col.isnull()
        t = t.filter(test)
    return t


def _until_now(t: ir.Table, column: ir.Column, now: dt.datetime) -> ir.Table:
    """Rows stamped at or before the run's clock (a time or date column); others as they are."""
    k = kind(column.type())
    if k == "time":
        return t.filter(column <= now)
    if k == "date":
        return t.filter(column <= now.date())
    return t


@dataclasses.dataclass
class Triggered:
    """What a trigger read: new entities (id, the row, its watermark value), in trigger order."""

    new: list[tuple[str, dict[str, Any], str | None]]
    duplicates: int
    """Rows past the watermark of entities already enrolled (or a second row of a new one)."""
    watermark: tuple[str, str, str] | None
    """(table, column, the highest value read) to store; None without a watermark column or rows."""


def check(wh: Warehouse, name: str, wf: Workflow) -> None:
    """Every table and column `wf` reads exists and every `where` value fits its column (ConfigError)."""
    trig, top = wf.trigger, f"workflows.{name}"
    t = _table(wh, trig.table, f"{top}.trigger.table")
    _column(t, trig.table, trig.key, f"{top}.trigger.key")
    _filtered(t, trig.table, trig.where, f"{top}.trigger.where")
    if trig.watermark:
        col = _column(t, trig.table, trig.watermark, f"{top}.trigger.watermark")
        if kind(col.type()) not in ("time", "date", "number"):
            raise ConfigError(f"{top}.trigger.watermark: {trig.table}.{trig.watermark} is {col.type()}, not a date, "
                              "time or number: text sorts by its characters ('10' before '9', every name after "
                              "'2024-...'), so a run would read the wrong rows; name a timestamp column such as "
                              "_etl_loaded_at")
        if trig.since is not None:
            typed(trig.since, col.type(), f"{top}.trigger.since")
    for cname, cond in wf.conditions.items():
        where = f"{top}.conditions.{cname}"
        c = _table(wh, cond.table, f"{where}.table")
        _column(c, cond.table, cond.match or trig.key, f"{where}.match")
        _filtered(c, cond.table, cond.where, f"{where}.where")
        if cond.time:
            col = _column(c, cond.table, cond.time, f"{where}.time")
            if kind(col.type()) not in ("time", "date"):
                raise ConfigError(f"{where}.time: {cond.table}.{cond.time} is {col.type()}, not a date or time")


def unmatched(wh: Warehouse, name: str, wf: Workflow) -> list[str]:
    """A note per text value of a `where` that no row of its table holds (`export_reprt` for
    `export_report`): the trigger would never fire, or a stop_when goal never hold, and every customer
    would get every message. A note, not an error: a value may simply not have happened yet (no deal
    won so far). Run after `check`, so the tables and columns exist."""
    notes = []
    sources = [(f"workflows.{name}.trigger.where", wf.trigger.table, wf.trigger.where)]
    sources += [(f"workflows.{name}.conditions.{c}.where", cond.table, cond.where) for c, cond in wf.conditions.items()]
    for key, table, where in sources:
        t = wh.table(table)
        for column, want in where.items():
            values = [v for v in (want if isinstance(want, list) else [want]) if isinstance(v, str)]
            if not values or kind(t[column].type()) != "text":
                continue
            hits = t.filter(t[column].isin(values)).select(column).distinct()
            found = {r[column] for r in wh.to_pyarrow(hits).to_pylist()}
            missing = [v for v in values if v not in found]
            if missing:
                common = t.group_by(column).aggregate(n=t.count()).order_by([ibis.desc("n"), column])
                common = common.limit(LISTED + 1)
                seen = [r[column] for r in wh.to_pyarrow(common).to_pylist() if r[column] is not None]
                said = ("" if len(seen) > LISTED else  # free text: a list would not help
                        f"; its values: {', '.join(repr(v if len(v) <= 40 else v[:39] + '…') for v in seen)}" if seen
                        else "; it has none")
                notes.append(f"{key}.{column}: no row of {table} has {', '.join(repr(v) for v in missing)} (check "
                             f"the spelling{said})")
    return notes


def read(wh: Warehouse, name: str, trig: Trigger, stored: str | None, now: dt.datetime) -> Triggered:
    """Rows of the trigger table past the watermark (`stored`, else `since`) and up to `now`, less
    the entities the workflow already has; the first row of each new entity enrols it."""
    top = f"workflows.{name}.trigger"
    t = _filtered(wh.table(trig.table), trig.table, trig.where, f"{top}.where")
    t = t.filter(t[trig.key].notnull())
    strictly_after = lower = None
    if trig.watermark:
        col = t[trig.watermark]
        lower = (typed(stored, col.type(), f"{top}.watermark (stored in {T.WATERMARKS})") if stored is not None
                 else typed(trig.since, col.type(), f"{top}.since") if trig.since is not None else None)
        t = _until_now(t.filter(col.notnull()), col, now)
        if lower is not None:
            t = t.filter(t[trig.watermark] >= lower)  # rows on the boundary again: enrolled ones are left out
            strictly_after = lower if stored is not None else None
    t = t.mutate(_entity=t[trig.key].cast("string"))
    duplicates = 0
    if wh.exists(T.ENTITIES):
        enrolled = wh.table(T.ENTITIES)
        enrolled = enrolled.filter(enrolled.workflow == name).entity_id
        seen = t.filter(t._entity.isin(enrolled))
        if strictly_after is not None:  # the boundary's rows were read last time: not a new duplicate
            seen = seen.filter(seen[trig.watermark] > strictly_after)
        duplicates = int(wh.scalar(seen.count()))
        t = t.filter(~t._entity.isin(enrolled))
    order = [trig.watermark, "_entity"] if trig.watermark else ["_entity"]
    rows = wh.to_pyarrow(t.order_by(order)).to_pylist()
    new: dict[str, tuple[str, dict[str, Any], str | None]] = {}
    for row in rows:
        entity = row.pop("_entity")
        if entity in new:
            duplicates += 1
            continue
        value = row.get(trig.watermark) if trig.watermark else None
        new[entity] = (entity, {k: jsonable(v) for k, v in row.items()},
                       None if value is None else str(jsonable(value)))
    mark = None
    if trig.watermark:
        full = _filtered(wh.table(trig.table), trig.table, trig.where, f"{top}.where")
        full = _until_now(full, full[trig.watermark], now)
        if lower is not None:  # never below `since`: older rows must not become new next time
            full = full.filter(full[trig.watermark] >= lower)
        top_value = wh.to_pyarrow(full.aggregate(top=full[trig.watermark].max())).to_pylist()[0]["top"]
        if top_value is not None and (stored is None or typed(stored, full[trig.watermark].type(), top) < top_value):
            mark = (trig.table, trig.watermark, str(jsonable(top_value)))
    return Triggered(list(new.values()), duplicates, mark)


def holding(wh: Warehouse, cond: Condition, key: str, ids: list[str], now: dt.datetime) -> set[str]:
    """The ids among `ids` for which `cond` holds at `now`."""
    if not ids:
        return set()
    t = _filtered(wh.table(cond.table), cond.table, cond.where, "condition")
    if cond.time:
        t = _until_now(t, t[cond.time], now)
    match = t[cond.match or key].cast("string").name("_entity")
    out: set[str] = set()
    for i in range(0, len(ids), IN_CHUNK):
        chunk = ids[i:i + IN_CHUNK]
        part = t.mutate(_entity=match).filter(ibis._["_entity"].isin(chunk))
        counted = part.group_by("_entity").aggregate(n=part.count())
        counted = counted.filter(counted.n >= cond.at_least)
        out |= {r["_entity"] for r in wh.to_pyarrow(counted).to_pylist()}
    return out
