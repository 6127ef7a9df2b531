"""Warehouse tables of workflows. Times are naive UTC: the run's clock (`--now`), not the wall clock,
except `recorded_at`, the wall-clock moment a row was written (for an audit of what ran when)."""

from __future__ import annotations

import ibis

ENTITIES = "ops.workflow_entities"
"""One row per (workflow, entity_id) ever enrolled: status (active, parked, stopped, completed),
`step` (the next step to run; NULL once ended), `due_at` (when it may run), `enrolled_at`,
`reason` (why parked or stopped), `context` (the trigger row as JSON, what templates read)."""
ACTIONS = "ops.workflow_actions"
"""The action log: one row per (workflow, step, entity), keyed by `idempotency_key`, written
before an effect (status `started`) and after it (`done`, `failed`, `parked`), plus the run's
enrolments, waits, branch decisions and stops, so `martops workflows history` shows everything."""
EVENTS = "ops.workflow_events"
"""Append-only: one row per park of an entity and per `martops workflows retry` of it, never updated
or deleted. The action log keeps one row per idempotency key, so a park that a retry and a later
success overwrote would be lost there; this keeps each of them for `martops workflows history`."""
CLOCKS = "ops.workflow_clocks"
"""Per workflow: the clock (`--now`, else the real one) of its last real run, committed before the
run's first effect. A run at an earlier clock is refused (`--allow-earlier-now` accepts it)."""
WATERMARKS = "ops.workflow_watermarks"
"""Per workflow: the trigger's table and watermark column and the highest value a run has read."""
TASKS = "marts.workflow_tasks"
"""Tasks task steps write (default table): title, assignee, notes, due_at, one per idempotency key."""
LIST_MEMBERS = "marts.workflow_list_members"
"""List memberships list steps write (default table): list_name, entity_id, added_at."""

ENTITY_SCHEMA = ibis.schema({
    "workflow": "string", "entity_id": "string", "status": "string", "step": "string", "due_at": "timestamp",
    "enrolled_at": "timestamp", "updated_at": "timestamp", "reason": "string", "context": "string",
    "trigger_value": "string", "run_id": "string",
})
ACTION_SCHEMA = ibis.schema({
    "idempotency_key": "string", "workflow": "string", "step": "string", "entity_id": "string", "kind": "string",
    "status": "string", "attempts": "int64", "first_at": "timestamp", "occurred_at": "timestamp",
    "recorded_at": "timestamp", "detail": "string", "error": "string", "run_id": "string",
})
EVENT_SCHEMA = ibis.schema({
    "workflow": "string", "entity_id": "string", "event": "string", "step": "string", "kind": "string",
    "idempotency_key": "string", "attempts": "int64", "reason": "string", "command": "string",
    "requested_by": "string", "occurred_at": "timestamp", "recorded_at": "timestamp", "run_id": "string",
})
"""`event`: parked or retried. A park's `occurred_at` is the run's clock and `reason` why; a retry's
is the wall clock when the command ran, `command` the command line (flags that name files or
warehouses left out) and `requested_by` user@host."""
CLOCK_SCHEMA = ibis.schema({
    "workflow": "string", "clock": "timestamp", "recorded_at": "timestamp", "run_id": "string",
})
WATERMARK_SCHEMA = ibis.schema({
    "workflow": "string", "table_name": "string", "column_name": "string", "value": "string",
    "updated_at": "timestamp", "run_id": "string",
})
TASK_SCHEMA = ibis.schema({
    "idempotency_key": "string", "workflow": "string", "step": "string", "entity_id": "string",
    "title": "string", "assignee": "string", "notes": "string", "due_at": "timestamp", "created_at": "timestamp",
    "status": "string", "run_id": "string",
})
LIST_SCHEMA = ibis.schema({
    "idempotency_key": "string", "workflow": "string", "step": "string", "entity_id": "string",
    "list_name": "string", "added_at": "timestamp", "run_id": "string",
})

# entity statuses
ACTIVE, PARKED, STOPPED, COMPLETED = "active", "parked", "stopped", "completed"
# action statuses
STARTED, DONE, FAILED, WAITING = "started", "done", "failed", "waiting"
# entity events (ops.workflow_events)
PARK_EVENT, RETRY_EVENT = "parked", "retried"
ENROL_STEP, GOAL_STEP = "(trigger)", "(stop_when)"
"""The `step` of the log rows that record an enrolment and a stop by a stop_when condition."""
