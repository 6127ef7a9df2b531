"""`ops.runs`: one row per step run, written before the step starts and updated when it ends.

The 'running' row is committed before the step's own transaction begins, so a run killed with
SIGKILL leaves a row that says so; the next run (which holds the warehouse lock, so it knows the
other process is gone) marks it `abandoned`. Steps of one invocation share a run id.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import datetime as dt
import difflib
import json
import os
import socket
import time
import uuid
from typing import Any, Callable, Iterable, Iterator

import ibis

from martops import interrupts
from martops.engine import Warehouse
from martops.errors import ConfigError
from martops.results import StepResult

RUNS = "ops.runs"

SCHEMA = ibis.schema({
    "run_id": "string", "step": "string", "params": "string", "since": "date", "until": "date",
    "started_at": "timestamp", "ended_at": "timestamp", "status": "string", "rows_in": "int64",
    "rows_out": "int64", "error": "string", "pid": "int64", "host": "string",
})

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("martops_run_id", default=None)


def new_run_id() -> str:
    return dt.datetime.now().strftime("%Y%m%dT%H%M%S-") + uuid.uuid4().hex[:8]


def current_run_id() -> str:
    """The run id of the invocation in progress (one is made if none was started)."""
    run_id = _current.get()
    if run_id is None:
        run_id = new_run_id()
        _current.set(run_id)
    return run_id


@contextlib.contextmanager
def invocation(run_id: str | None = None) -> Iterator[str]:
    """Give every step run inside the block the same run id (one CLI command = one run id)."""
    token = _current.set(run_id or new_run_id())
    try:
        yield _current.get()  # type: ignore[misc]
    finally:
        _current.reset(token)


@dataclasses.dataclass
class StepRun:
    run_id: str
    step: str
    rows_in: int = 0
    rows_out: int = 0


def _ensure(wh: Warehouse) -> None:
    wh.ensure_table(RUNS, SCHEMA)


def mark_abandoned(wh: Warehouse) -> int:
    """Runs left 'running' by a process that died: we hold the lock now, so they cannot be alive."""
    _ensure(wh)
    rows = wh.execute(
        f"UPDATE {wh.quoted(RUNS)} SET status = 'abandoned', ended_at = NULL, "
        "error = 'the process ended before the step finished (killed or crashed); its changes were "
        "rolled back' WHERE status = 'running'"
    )
    return int(rows[0][0]) if rows else 0


def _jsonable(params: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in params.items() if v is not None}, default=str, sort_keys=True)


@contextlib.contextmanager
def logged(wh: Warehouse, step: str, params: dict[str, Any] | None = None,
           since: dt.date | None = None, until: dt.date | None = None) -> Iterator[StepRun]:
    """Record the step in ops.runs around the block; the block fills in rows_in/rows_out."""
    run = StepRun(current_run_id(), step)
    mark_abandoned(wh)
    wh.insert(RUNS, ibis.memtable({
        "run_id": [run.run_id], "step": [step], "params": [_jsonable(params or {})], "since": [since],
        "until": [until], "started_at": [dt.datetime.now()], "ended_at": [None], "status": ["running"],
        "rows_in": [None], "rows_out": [None], "error": [None], "pid": [os.getpid()], "host": [socket.gethostname()],
    }, schema=SCHEMA))
    where = "run_id = ? AND step = ? AND status = 'running'"
    try:
        yield run
    except BaseException as exc:
        if interrupts.requested() or isinstance(exc, KeyboardInterrupt):
            message = "interrupted (Ctrl-C); the step's changes were rolled back"
        else:
            message = str(exc) or type(exc).__name__
        wh.after_interrupt(f"UPDATE {wh.quoted(RUNS)} SET status = 'failed', ended_at = ?, error = ? WHERE {where}",
                           [dt.datetime.now(), message[:4000], run.run_id, step])
        raise
    wh.execute(f"UPDATE {wh.quoted(RUNS)} SET status = 'success', ended_at = ?, rows_in = ?, rows_out = ? "
               f"WHERE {where}", [dt.datetime.now(), run.rows_in, run.rows_out, run.run_id, step])


def recent(wh: Warehouse, limit: int = 20, step: str | None = None) -> list[dict[str, Any]]:
    if not wh.exists(RUNS):
        return []
    t = wh.table(RUNS)
    if step:
        t = t.filter(t.step.startswith(step))
    t = t.order_by([ibis.desc("started_at")]).limit(limit)
    return [_as_seen(r) for r in wh.to_pyarrow(t).to_pylist()]


def _as_seen(run: dict[str, Any]) -> dict[str, Any]:
    """A run still marked 'running' whose process, on this machine, is gone is shown as abandoned
    (the next writer records it so; a reader writes nothing). A run of another machine cannot be
    checked from here and keeps its status until then."""
    if run.get("status") == "running" and run.get("host") == socket.gethostname() and run.get("pid") \
            and not _alive(int(run["pid"])):
        return {**run, "status": "abandoned", "error": "the process ended before the step finished (killed or "
                "crashed); its changes were rolled back"}
    return run


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def steps(wh: Warehouse) -> list[str]:
    """The distinct step names ops.runs holds (none when it does not exist)."""
    if not wh.exists(RUNS):
        return []
    t = wh.table(RUNS)
    return sorted(r["step"] for r in wh.to_pyarrow(t.select("step").distinct()).to_pylist())


def check_step_filter(step: str, known: Iterable[str]) -> None:
    """`martops runs --step`: a start that no `known` step name (the graph's, `check`, the
    schedules', those in ops.runs) has is a ConfigError naming the nearest (no silent "no runs")."""
    names = sorted(set(known))
    if any(n.startswith(step) for n in names):
        return
    prefixes = sorted({n.split(".", 1)[0] + ("." if "." in n else "") for n in names})
    by_lower = {n.lower(): n for n in [*names, *(p.rstrip(".") for p in prefixes)]}
    close = [by_lower[c] for c in difflib.get_close_matches(step.lower(), list(by_lower), n=3, cutoff=0.6)]
    hint = (f"did you mean {' or '.join(close)}?" if close
            else f"the steps are {', '.join(p + ('*' if p.endswith('.') else '') for p in prefixes)}")
    raise ConfigError(f"--step {step!r} is the start of no step name; {hint}")


def timed(wh: Warehouse, domain: str, step: str, params: dict[str, Any], fn: Callable[[], dict],
          rows_in: str | None, rows_out: str, *, since: dt.date | None = None, until: dt.date | None = None,
          keep_counts: bool = False) -> StepResult:
    """Run `fn` logged in ops.runs as `<domain>.<step>` and file its counts: `rows_in`/`rows_out`
    name keys of the dict it returns (left in the details when `keep_counts`)."""
    t0 = time.perf_counter()
    with logged(wh, f"{domain}.{step}", params, since, until) as run:
        details = fn()
        take = details.get if keep_counts else details.pop
        run.rows_in = int(take(rows_in)) if rows_in else 0
        run.rows_out = int(take(rows_out))
    return StepResult(step, since, until, rows_in=run.rows_in, rows_out=run.rows_out,
                      seconds=time.perf_counter() - t0, details=details)
