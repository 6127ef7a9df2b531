"""What `martops workflows status|history|retry` read and change in ops.workflow_*.

Read-only except `retry`, which puts parked entities back at the step that failed: the next run
tries that step again, with the same idempotency key.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import socket
from typing import Any

from martops.config import ProjectConfig
from martops.engine import Warehouse
from martops.errors import ConfigError
from martops.workflows import tables as T
from martops.workflows.store import ensure_events, insert, wall_clock

STATUSES = (T.ACTIVE, T.PARKED, T.STOPPED, T.COMPLETED)


def _names(cfg: ProjectConfig, wh: Warehouse, only: str | None) -> list[str]:
    """The workflows to show: `only`, else those of martops.yml and any the tables still hold."""
    held: list[str] = []
    if wh.exists(T.ENTITIES):
        held = [r[0] for r in wh.execute(f"SELECT DISTINCT workflow FROM {wh.quoted(T.ENTITIES)} ORDER BY 1")]
    known = list(dict.fromkeys([*cfg.workflows, *held]))
    if only is not None:
        if only not in known:
            raise ConfigError(f"--workflow {only!r} is not a workflow of martops.yml or of the warehouse; "
                              f"workflows: {', '.join(known) or 'none'}")
        return [only]
    if not known:
        raise ConfigError("martops.yml declares no workflows and the warehouse holds none; add a `workflows:` "
                          "section (see the README's Workflows section)")
    return known


def status(wh: Warehouse, cfg: ProjectConfig, only: str | None, now: dt.datetime) -> list[dict[str, Any]]:
    """One row per workflow: entities per status, how many are due now or waiting, actions in doubt
    (started, never recorded done) and failing (left for the next run), and the watermark."""
    out = []
    have = wh.exists(T.ENTITIES) and wh.exists(T.ACTIONS)
    for name in _names(cfg, wh, only):
        row: dict[str, Any] = {"workflow": name, "declared": "yes" if name in cfg.workflows else "no (not in martops.yml)"}
        row.update({s: 0 for s in STATUSES})
        row.update({"due now": 0, "waiting": 0, "in doubt": 0, "failing": 0, "watermark": None})
        if have:
            q = wh.quoted
            for status_, count in wh.execute(f"SELECT status, count(*) FROM {q(T.ENTITIES)} WHERE workflow = ? "
                                             "GROUP BY status", [name]):
                row[status_] = int(count)
            due, waiting = wh.execute(
                f"SELECT count(CASE WHEN due_at <= ? THEN 1 END), count(CASE WHEN due_at > ? THEN 1 END) FROM "
                f"{q(T.ENTITIES)} WHERE workflow = ? AND status = ?", [now, now, name, T.ACTIVE])[0]
            row["due now"], row["waiting"] = int(due), int(waiting)
            for status_, count in wh.execute(
                    f"SELECT a.status, count(*) FROM {q(T.ACTIONS)} a JOIN {q(T.ENTITIES)} e ON a.workflow = e.workflow "
                    "AND a.entity_id = e.entity_id WHERE a.workflow = ? AND e.status = ? AND a.status IN (?, ?) "
                    "GROUP BY a.status", [name, T.ACTIVE, T.STARTED, T.FAILED]):
                row["in doubt" if status_ == T.STARTED else "failing"] = int(count)
        if wh.exists(T.WATERMARKS):
            mark = wh.execute(f"SELECT column_name, value FROM {wh.quoted(T.WATERMARKS)} WHERE workflow = ?", [name])
            row["watermark"] = f"{mark[0][0]} {mark[0][1]}" if mark else None
        out.append(row)
    return out


def attention(wh: Warehouse, cfg: ProjectConfig, only: str | None) -> list[dict[str, Any]]:
    """Entities a person may need to look at: parked ones (with the reason), and active ones whose
    current action failed temporarily or is in doubt (with its error and attempts)."""
    if not (wh.exists(T.ENTITIES) and wh.exists(T.ACTIONS)):
        return []
    names = _names(cfg, wh, only)
    q = wh.quoted
    marks = ", ".join("?" for _ in names)
    rows = wh.records(f"SELECT e.workflow, e.entity_id, e.status, e.step, e.reason, a.status AS action, a.attempts, "
                 f"a.error, a.occurred_at FROM {q(T.ENTITIES)} e LEFT JOIN {q(T.ACTIONS)} a ON a.workflow = e.workflow AND "
                 "a.entity_id = e.entity_id AND a.step = e.step WHERE e.workflow IN (" + marks + ") AND (e.status = ? "
                 "OR (e.status = ? AND a.status IN (?, ?))) ORDER BY e.workflow, e.status, e.entity_id",
                 [*names, T.PARKED, T.ACTIVE, T.STARTED, T.FAILED])
    for r in rows:
        if r["status"] == T.ACTIVE:
            r["status"] = "in doubt" if r["action"] == T.STARTED else "failing"
            r["reason"] = r["error"] or ("started and never recorded done; the next run resends it with the same key"
                                         if r["action"] == T.STARTED else "")
    return rows


def history(wh: Warehouse, cfg: ProjectConfig, entity: str, only: str | None) -> tuple[list[dict], list[dict]]:
    """(the entity's rows of ops.workflow_entities, its log in the order it was written): the action
    log's rows and, from ops.workflow_events, each park (kind of the step, status `parked`, the
    reason as `error`) and each retry (kind `retry`, status `resumed`, the command and user@host as
    `detail`). An action row left as its park made it is left out (its park event says the same).
    ConfigError when no workflow holds the entity."""
    names = _names(cfg, wh, only)
    if not (wh.exists(T.ENTITIES) and wh.exists(T.ACTIONS)):
        raise ConfigError(f"no workflow has run in {wh.location} yet (no {T.ENTITIES}); run `martops workflows run`")
    marks = ", ".join("?" for _ in names)
    q = wh.quoted
    states = wh.records(f"SELECT workflow, entity_id, status, step, due_at, enrolled_at, reason FROM {q(T.ENTITIES)} "
                   f"WHERE entity_id = ? AND workflow IN ({marks}) ORDER BY workflow", [entity, *names])
    if not states:
        counts = wh.execute(f"SELECT count(*) FROM {q(T.ENTITIES)} WHERE workflow IN ({marks})", names)[0][0]
        example = wh.execute(f"SELECT min(entity_id) FROM {q(T.ENTITIES)} WHERE workflow IN ({marks})", names)[0][0]
        held = f"{counts:,} {'entity' if counts == 1 else 'entities'}"
        raise ConfigError(f"entity {entity!r} is in no workflow ({', '.join(names)}: {held} in all; ids are the "
                          "trigger key as text" + (f", e.g. `martops workflows history {example}`)" if example else ")"))
    log = wh.records(f"SELECT occurred_at, workflow, step, kind, status, attempts, detail, error, idempotency_key, recorded_at "
                f"FROM {q(T.ACTIONS)} WHERE entity_id = ? AND workflow IN ({marks})", [entity, *names])
    for r in log:
        r["detail"] = json.loads(r["detail"] or "{}")
    events = []
    if wh.exists(T.EVENTS):  # a warehouse whose workflows have not run since it was added has none
        events = wh.records(f"SELECT occurred_at, workflow, step, kind, event, attempts, reason, command, "
                            f"requested_by, idempotency_key, recorded_at FROM {q(T.EVENTS)} WHERE entity_id = ? AND workflow IN "
                            f"({marks})", [entity, *names])
    # a parked action row (or the same row a retry relabelled failed) says nothing its park event does not
    parks = {(e["idempotency_key"], e["reason"]) for e in events if e["event"] == T.PARK_EVENT}
    log = [r for r in log if not (r["status"] in (T.PARKED, T.FAILED) and (r["idempotency_key"], r["error"]) in parks)]
    for e in events:
        park = e["event"] == T.PARK_EVENT
        by = {"by": e["command"], "as": e["requested_by"]}
        log.append({"occurred_at": e["occurred_at"], "workflow": e["workflow"], "step": e["step"],
                    "kind": e["kind"] if park else "retry", "status": T.PARKED if park else "resumed",
                    "attempts": e["attempts"] if park else None, "detail": {} if park else
                    {k: v for k, v in by.items() if v}, "error": e["reason"] if park else None,
                    "idempotency_key": e["idempotency_key"], "recorded_at": e["recorded_at"]})
    # the order of writing: a run's clock can stand anywhere against the wall clock of a retry
    log.sort(key=lambda r: (r["recorded_at"], r["occurred_at"]))
    return states, log


def retry(wh: Warehouse, cfg: ProjectConfig, entities: list[str], only: str | None, every: bool,
          command: str) -> list[dict]:
    """Put parked entities (`entities`, or every parked one with `every`) back at the step that
    failed; the next run tries it again with the same idempotency key. Each retry is appended to
    ops.workflow_events with `command` (the command line as typed, without paths) and user@host.
    ConfigError naming an entity that is not parked (no silent success)."""
    if bool(entities) == every:
        raise ConfigError("name the entities to retry (martops workflows retry 1042 1043) or pass --all, one of them")
    names = _names(cfg, wh, only)
    if not wh.exists(T.ENTITIES):
        raise ConfigError(f"no workflow has run in {wh.location} yet; nothing is parked")
    q, marks = wh.quoted, ", ".join("?" for _ in names)
    parked = wh.records(f"SELECT workflow, entity_id, step, reason FROM {q(T.ENTITIES)} WHERE status = ? AND "
                   f"workflow IN ({marks}) ORDER BY workflow, entity_id", [T.PARKED, *names])
    if entities:
        for entity in entities:
            if not any(p["entity_id"] == entity for p in parked):
                held = wh.records(f"SELECT workflow, status FROM {q(T.ENTITIES)} WHERE entity_id = ? AND workflow IN "
                             f"({marks})", [entity, *names])
                said = ", ".join(f"{h['status']} in {h['workflow']}" for h in held) or "in no workflow"
                raise ConfigError(f"entity {entity!r} is not parked ({said}); `martops workflows status` lists the "
                                  "parked ones")
        parked = [p for p in parked if p["entity_id"] in entities]
    if not parked:
        raise ConfigError(f"no entity is parked in {', '.join(names)}; nothing to retry")
    ensure_events(wh)  # before the first run of a martops that has it, this is where it starts
    who, now = requested_by(), wall_clock()
    with wh.transaction():
        for p in parked:
            wh.execute(f"UPDATE {q(T.ENTITIES)} SET status = ?, reason = ?, updated_at = ? WHERE workflow = ? AND "
                       "entity_id = ?", [T.ACTIVE, f"retry requested after: {p['reason']}", now, p["workflow"],
                                         p["entity_id"]])
            action = wh.records(f"SELECT kind, idempotency_key, attempts FROM {q(T.ACTIONS)} WHERE workflow = ? AND "
                                "entity_id = ? AND step = ?", [p["workflow"], p["entity_id"], p["step"]])
            wh.execute(f"UPDATE {q(T.ACTIONS)} SET status = ?, recorded_at = ? WHERE workflow = ? AND entity_id = ? "
                       "AND step = ? AND status = ?", [T.FAILED, now, p["workflow"], p["entity_id"], p["step"],
                                                      T.PARKED])
            insert(wh, T.EVENTS, {
                "workflow": p["workflow"], "entity_id": p["entity_id"], "event": T.RETRY_EVENT, "step": p["step"],
                "kind": action[0]["kind"] if action else None,
                "idempotency_key": action[0]["idempotency_key"] if action else None,
                "attempts": action[0]["attempts"] if action else None, "reason": p["reason"], "command": command,
                "requested_by": who, "occurred_at": now, "recorded_at": now, "run_id": None})
    return parked


def requested_by() -> str:
    """user@host of the process (what ops.workflow_events records for a retry); the user's name is
    left out where the system has none for this uid (a container)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = None
    host = socket.gethostname()
    return f"{user}@{host}" if user else host
