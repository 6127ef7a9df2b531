"""The state of one workflow in memory, written through to the warehouse (ops.workflow_*) unless dry.

A run loads the entities that are still in play (active, parked) with their log rows, works on the
copies and writes every change at once with `save` (one transaction: the entity, its log rows and
any rows a step writes), or `begin` for the log row that must be committed before an effect. A dry
run uses the same class with `dry=True`: every change stays in memory, so the dry run follows the
same path as a real one and writes nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any, Iterable

from martops.engine import Warehouse
from martops.workflows import tables as T


@dataclasses.dataclass
class Entity:
    workflow: str
    entity_id: str
    status: str
    step: str | None
    due_at: dt.datetime | None
    enrolled_at: dt.datetime
    context: dict[str, Any]
    trigger_value: str | None = None
    reason: str | None = None


@dataclasses.dataclass
class Action:
    """One row of the action log."""

    key: str
    workflow: str
    step: str
    entity_id: str
    kind: str
    status: str
    occurred_at: dt.datetime
    first_at: dt.datetime
    attempts: int = 0
    detail: dict[str, Any] = dataclasses.field(default_factory=dict)
    error: str | None = None


@dataclasses.dataclass
class Park:
    """A park of one entity, for the append-only ops.workflow_events (its action row is overwritten
    once the entity is retried and the step succeeds; this row stays)."""

    action: Action
    reason: str


@dataclasses.dataclass
class Row:
    """A row a step writes into a table of its own (a task, a list membership), replacing any row
    of the same idempotency key."""

    table: str
    values: dict[str, Any]


def jsonable(value: Any) -> Any:
    """A warehouse value as JSON can hold it (times and dates as ISO text, decimals as floats)."""
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


class Store:
    def __init__(self, wh: Warehouse, workflow: str, run_id: str, *, dry: bool):
        self.wh, self.workflow, self.run_id, self.dry = wh, workflow, run_id, dry
        if not dry:
            for name, schema in ((T.ENTITIES, T.ENTITY_SCHEMA), (T.ACTIONS, T.ACTION_SCHEMA),
                                 (T.WATERMARKS, T.WATERMARK_SCHEMA), (T.CLOCKS, T.CLOCK_SCHEMA)):
                wh.ensure_table(name, schema)
            ensure_events(wh)
        self.has_tables = wh.exists(T.ENTITIES) and wh.exists(T.ACTIONS)
        self.entities: dict[str, Entity] = {}
        """The entities still in play (active, parked), by id."""
        self.actions: dict[str, Action] = {}
        """Their log rows, by idempotency key."""
        if self.has_tables:
            self._load()

    def _load(self) -> None:
        q, wf = self.wh.quoted, self.workflow
        for r in self.wh.records(f"SELECT * FROM {q(T.ENTITIES)} WHERE workflow = ? AND status IN (?, ?)",
                             [wf, T.ACTIVE, T.PARKED]):
            self.entities[r["entity_id"]] = Entity(
                wf, r["entity_id"], r["status"], r["step"], r["due_at"], r["enrolled_at"],
                json.loads(r["context"] or "{}"), r["trigger_value"], r["reason"])
        for r in self.wh.records(f"SELECT a.* FROM {q(T.ACTIONS)} a JOIN {q(T.ENTITIES)} e ON a.workflow = e.workflow "
                             "AND a.entity_id = e.entity_id WHERE a.workflow = ? AND e.status IN (?, ?)",
                             [wf, T.ACTIVE, T.PARKED]):
            self.actions[r["idempotency_key"]] = Action(
                r["idempotency_key"], wf, r["step"], r["entity_id"], r["kind"], r["status"], r["occurred_at"], r["first_at"],
                int(r["attempts"] or 0), json.loads(r["detail"] or "{}"), r["error"])

    # -- reading ------------------------------------------------------------------------------
    def watermark(self, table: str, column: str) -> str | None:
        """The highest `column` value of `table` an earlier run read (None: none, or the trigger changed)."""
        if not self.wh.exists(T.WATERMARKS):
            return None
        rows = self.wh.execute(f"SELECT value FROM {self.wh.quoted(T.WATERMARKS)} WHERE workflow = ? AND "
                               "table_name = ? AND column_name = ?", [self.workflow, table, column])
        return rows[0][0] if rows else None

    def due(self, now: dt.datetime) -> list[Entity]:
        """Active entities whose next step may run at `now`, oldest due first."""
        ready = [e for e in self.entities.values() if e.status == T.ACTIVE and e.due_at is not None and e.due_at <= now]
        return sorted(ready, key=lambda e: (e.due_at, e.entity_id))

    def active(self) -> list[Entity]:
        return sorted((e for e in self.entities.values() if e.status == T.ACTIVE), key=lambda e: e.entity_id)

    # -- writing ------------------------------------------------------------------------------
    def begin(self, action: Action) -> None:
        """Record `action` as started, committed before its effect is attempted."""
        self.actions[action.key] = action
        if not self.dry:
            with self.wh.transaction():
                self._put_action(action)

    def save(self, entities: Iterable[Entity] = (), actions: Iterable[Action] = (), rows: Iterable[Row] = (),
             watermark: tuple[str, str, str] | None = None, parks: Iterable[Park] = (),
             clock: dt.datetime | None = None) -> None:
        """Write `entities`, `actions`, `rows`, `parks` (appended to the event log), the trigger's
        (table, column, value) watermark and the run's `clock` in one transaction: all of them are
        recorded, or none (a run killed before the commit finds the entity where it was, and the
        trigger rows unread)."""
        entities, actions, parks = list(entities), list(actions), list(parks)
        for e in entities:
            if e.status in (T.ACTIVE, T.PARKED):
                self.entities[e.entity_id] = e
            else:
                self.entities.pop(e.entity_id, None)
        for a in actions:
            self.actions[a.key] = a
        if self.dry:
            return
        with self.wh.transaction():
            for e in entities:
                self._put_entity(e)
            for a in actions:
                self._put_action(a)
            for row in rows:
                self.wh.delete_where(row.table, "idempotency_key = ?", [row.values["idempotency_key"]])
                self._insert(row.table, row.values)
            for p in parks:
                a = p.action
                insert(self.wh, T.EVENTS, {
                    "workflow": a.workflow, "entity_id": a.entity_id, "event": T.PARK_EVENT, "step": a.step,
                    "kind": a.kind, "idempotency_key": a.key, "attempts": a.attempts, "reason": p.reason,
                    "occurred_at": a.occurred_at, "recorded_at": wall_clock(), "run_id": self.run_id})
            if watermark is not None:
                self._put_watermark(*watermark)
            if clock is not None:
                self.wh.delete_where(T.CLOCKS, "workflow = ?", [self.workflow])
                insert(self.wh, T.CLOCKS, {"workflow": self.workflow, "clock": clock, "recorded_at": wall_clock(),
                                           "run_id": self.run_id})

    def _put_watermark(self, table: str, column: str, value: str) -> None:
        self.wh.delete_where(T.WATERMARKS, "workflow = ?", [self.workflow])
        self._insert(T.WATERMARKS, {"workflow": self.workflow, "table_name": table, "column_name": column,
                                    "value": value, "updated_at": wall_clock(), "run_id": self.run_id})

    def _put_entity(self, e: Entity) -> None:
        self.wh.delete_where(T.ENTITIES, "workflow = ? AND entity_id = ?", [e.workflow, e.entity_id])
        self._insert(T.ENTITIES, {
            "workflow": e.workflow, "entity_id": e.entity_id, "status": e.status, "step": e.step, "due_at": e.due_at,
            "enrolled_at": e.enrolled_at, "updated_at": wall_clock(), "reason": e.reason,
            "context": json.dumps(e.context, sort_keys=True), "trigger_value": e.trigger_value, "run_id": self.run_id})

    def _put_action(self, a: Action) -> None:
        self.wh.delete_where(T.ACTIONS, "idempotency_key = ?", [a.key])
        self._insert(T.ACTIONS, {
            "idempotency_key": a.key, "workflow": a.workflow, "step": a.step, "entity_id": a.entity_id, "kind": a.kind,
            "status": a.status, "attempts": a.attempts, "first_at": a.first_at, "occurred_at": a.occurred_at, "recorded_at": wall_clock(),
            "detail": json.dumps(a.detail, sort_keys=True, default=str), "error": a.error, "run_id": self.run_id})

    def _insert(self, table: str, values: dict[str, Any]) -> None:
        insert(self.wh, table, values)


def insert(wh: Warehouse, table: str, values: dict[str, Any]) -> None:
    """One row of `values` (column -> value) into `table`."""
    cols = ", ".join(wh.ident(c) for c in values)
    marks = ", ".join("?" for _ in values)
    wh.execute(f"INSERT INTO {wh.quoted(table)} ({cols}) VALUES ({marks})", list(values.values()))


def ensure_events(wh: Warehouse) -> None:
    """Create ops.workflow_events (or add the columns a newer martops writes). Made in a warehouse
    whose workflows ran before it existed, it starts with a park row for each entity parked now,
    taken from its action row, so their history keeps the park once a retry overwrites that row."""
    created = not wh.exists(T.EVENTS)
    wh.ensure_table(T.EVENTS, T.EVENT_SCHEMA)
    if not created or not (wh.exists(T.ENTITIES) and wh.exists(T.ACTIONS)):
        return
    q = wh.quoted
    with wh.transaction():
        wh.execute(
            f"INSERT INTO {q(T.EVENTS)} (workflow, entity_id, event, step, kind, idempotency_key, attempts, reason, "
            "occurred_at, recorded_at, run_id) SELECT e.workflow, e.entity_id, ?, e.step, a.kind, a.idempotency_key, "
            f"a.attempts, e.reason, a.occurred_at, a.recorded_at, a.run_id FROM {q(T.ENTITIES)} e "
            f"JOIN {q(T.ACTIONS)} a ON a.workflow = e.workflow AND a.entity_id = e.entity_id AND a.step = e.step WHERE e.status = ? AND "
            "a.status = ?", [T.PARK_EVENT, T.PARKED, T.PARKED])


def last_clock(wh: Warehouse, workflow: str) -> dt.datetime | None:
    """The clock of `workflow`'s last real run (naive UTC): its row of ops.workflow_clocks, else (a
    warehouse from before that table) the latest clock its action log recorded; None if it never ran."""
    q = wh.quoted
    if wh.exists(T.CLOCKS):
        rows = wh.execute(f"SELECT clock FROM {q(T.CLOCKS)} WHERE workflow = ?", [workflow])
        if rows:
            return rows[0][0]
    if wh.exists(T.ACTIONS):
        return wh.execute(f"SELECT max(occurred_at) FROM {q(T.ACTIONS)} WHERE workflow = ?", [workflow])[0][0]
    return None


def set_after(wh: Warehouse, workflow: str, clock: dt.datetime) -> tuple[int, dt.datetime | None]:
    """(how many active entities of `workflow` wait on a time a run after `clock` set, the latest
    such time): what a run at a clock put back (`--allow-earlier-now`) leaves as it was."""
    if not (wh.exists(T.ENTITIES) and wh.exists(T.ACTIONS)):
        return 0, None
    q = wh.quoted
    rows = wh.execute(
        f"SELECT count(*), max(due_at) FROM {q(T.ENTITIES)} WHERE workflow = ? AND status = ? AND due_at > ? "
        f"AND entity_id IN (SELECT entity_id FROM {q(T.ACTIONS)} WHERE workflow = ? AND occurred_at > ?)",
        [workflow, T.ACTIVE, clock, workflow, clock])
    return int(rows[0][0] or 0), rows[0][1]


def wall_clock() -> dt.datetime:
    """The wall clock, naive UTC (`recorded_at`, `updated_at`: when a row was really written)."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
