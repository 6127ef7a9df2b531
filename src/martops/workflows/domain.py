"""Workflows as a domain of the step graph (`workflows`): one step, `workflows.run`, that a schedule
fires every few minutes (the demo project's `workflows` schedule), or `martops workflows run`.

The step is never part of a bare `martops run`: it sends e-mail and calls webhooks, which a run
of the data pipeline must not do unasked. Name it (`martops run workflows`, a schedule's
`select: [workflows]`) or use `martops workflows run`. It reads the tables martops.yml's triggers
and conditions name (checked when it starts), so it declares no inputs; registered last, it runs
after every other step of a combined run.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Callable

from martops.config import ProjectConfig
from martops.domain import Domain, Step, StepContext, TableSpec
from martops.engine import Warehouse
from martops.errors import StepError
from martops.ops.runlog import current_run_id, timed
from martops.results import StepResult
from martops.workflows import engine
from martops.workflows import tables as T


class ActionsFailed(StepError):
    """The run needs a person or a retry: actions failed after every attempt (a server down, a login
    refused; the next run tries them again), or entities were parked this run (a permanent failure:
    they wait for `martops workflows retry`). Everything else the run did is committed; the run is
    failed so that `martops workflows run` exits 1 and a schedule's log and ops.runs say so."""

    def __init__(self, message: str, report: engine.Report):
        super().__init__(message)
        self.report = report


def trouble(report: engine.Report) -> str | None:
    """One line on what the run left for later or for a person (None: nothing): the actions left
    failing, and the entities parked by this run (those parked earlier are not counted again)."""
    total, parts = report.total, []
    if total.retrying:
        first = next(e for e in report.events if e.outcome in ("failed", "deferred"))
        parts.append(f"{total.retrying} action(s) failed and are left for the next run (first: {first.workflow} "
                     f"{first.entity_id} {first.step}: {_line(first.detail)})")
    parked = [e for e in report.events if e.outcome == "parked"]
    if parked:
        ids = ", ".join(f"{e.workflow} {e.entity_id}" for e in parked[:5]) + (", ..." if len(parked) > 5 else "")
        first = parked[0].detail if parked[0].detail.startswith(f"{parked[0].step}:") else \
            f"{parked[0].step}: {parked[0].detail}"
        parts.append(f"{len(parked)} entit{'y' if len(parked) == 1 else 'ies'} parked: {ids} (first: {_line(first)}); "
                     "see `martops workflows status`, then `martops workflows retry`")
    return "; ".join(parts) or None


def _line(text: str, width: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[:width - 3] + "..."


def run_logged(wh: Warehouse, cfg: ProjectConfig, *, now: dt.datetime, only: list[str] | None = None,
               sleep: Callable[[float], None] = time.sleep,
               allow_earlier: bool = False) -> tuple[StepResult, engine.Report]:
    """A real run of the workflows (`only`: these names), logged in ops.runs as step workflows.run:
    rows in = entities enrolled, rows out = effects done (e-mails, webhooks, tasks, list rows).
    `allow_earlier`: see engine.Run.

    Raises ActionsFailed (with the report) when actions are left failing temporarily or entities
    were parked: what the run did is committed; the next run tries the failing actions again."""
    chosen = engine.selected(cfg, only)
    reports: list[engine.Report] = []

    def go() -> dict:
        report = engine.Run(wh, cfg, chosen, now, current_run_id(), dry_run=False, sleep=sleep,
                            allow_earlier=allow_earlier).run()
        reports.append(report)
        problem = trouble(report)
        if problem is not None:
            raise ActionsFailed(problem, report)
        total = report.total
        return {"enrolled": total.enrolled, "actions": total.done, "waiting": total.waiting, "parked": total.parked,
                "retrying": total.retrying, "stopped": total.stopped, "completed": total.completed,
                "duplicate_triggers": total.duplicates, "now": f"{engine.naive_utc(now):%Y-%m-%d %H:%M} UTC"}

    params = {"now": engine.naive_utc(now).isoformat(" "), "workflows": ",".join(chosen)}
    result = timed(wh, "workflows", "run", params, go, "enrolled", "actions", keep_counts=True)
    return result, reports[0]


def step_run(ctx: StepContext) -> StepResult:
    return run_logged(ctx.wh, ctx.project, now=dt.datetime.now(dt.timezone.utc))[0]


DOMAIN = Domain(
    name="workflows",
    title="Customer workflows (onboarding): triggers, e-mails, webhooks, tasks, waits, exactly-once action log",
    steps=(
        Step("workflows.run", "Enrol entities the workflows' triggers found since the stored watermark, stop those "
             "that met a stop_when goal, and run every due step (e-mail, webhook, task, list, wait, branch), each "
             "recorded once in ops.workflow_actions", step_run,
             outputs=(T.ENTITIES, T.ACTIONS, T.EVENTS, T.CLOCKS, T.WATERMARKS, T.TASKS, T.LIST_MEMBERS),
             skip_reason=lambda ctx: None if ctx.project.workflows else "martops.yml declares no workflows"),
    ),
    tables=(
        TableSpec(T.ENTITIES, ("workflow", "entity_id"), "one row per enrolled entity: status, next step, due_at",
                  indexes=(("workflow", "status"),)),
        TableSpec(T.ACTIONS, ("idempotency_key",), "the action log, one row per (workflow, step, entity)",
                  indexes=(("workflow", "entity_id"),)),
        TableSpec(T.EVENTS, (), "append-only: each park of an entity and each `workflows retry` of it",
                  indexes=(("workflow", "entity_id"),)),
        TableSpec(T.CLOCKS, ("workflow",), "per workflow: the clock of its last run (an earlier one is refused)"),
        TableSpec(T.WATERMARKS, ("workflow",), "per workflow: the highest trigger value read"),
        TableSpec(T.TASKS, ("idempotency_key",), "tasks written by task steps"),
        TableSpec(T.LIST_MEMBERS, ("idempotency_key",), "list memberships written by list steps"),
    ),
    build_hint="declare workflows in martops.yml and run them: martops workflows run --dry-run",
)
