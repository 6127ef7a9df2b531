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
    """Actions failed after every attempt (a server down, a login refused): the run recorded everything
    else and the next run tries them again, but the run is failed so a schedule's log says so."""

    def __init__(self, message: str, report: engine.Report):
        super().__init__(message)
        self.report = report


def run_logged(wh: Warehouse, cfg: ProjectConfig, *, now: dt.datetime, only: list[str] | None = None,
               sleep: Callable[[float], None] = time.sleep) -> tuple[StepResult, engine.Report]:
    """A real run of the workflows (`only`: these names), logged in ops.runs as step workflows.run:
    rows in = entities enrolled, rows out = effects done (e-mails, webhooks, tasks, list rows).

    Raises ActionsFailed (with the report) when actions are left failing temporarily: what the run
    did is committed, and the next run tries them again."""
    chosen = engine.selected(cfg, only)
    reports: list[engine.Report] = []

    def go() -> dict:
        report = engine.Run(wh, cfg, chosen, now, current_run_id(), dry_run=False, sleep=sleep).run()
        reports.append(report)
        total = report.total
        if total.retrying:
            first = next(e for e in report.events if e.outcome in ("failed", "deferred"))
            raise ActionsFailed(f"{total.retrying} action(s) failed and are left for the next run "
                                f"(first: {first.workflow} {first.entity_id} {first.step}: {first.detail})", report)
        return {"enrolled": total.enrolled, "actions": total.done, "waiting": total.waiting, "parked": total.parked,
                "retrying": total.retrying, "stopped": total.stopped, "completed": total.completed,
                "duplicate_triggers": total.duplicates, "now": f"{engine.naive_utc(now):%Y-%m-%d %H:%M} UTC"}

    params = {"now": engine.naive_utc(now).isoformat(" "), "workflows": ",".join(chosen)}
    result = timed(wh, "workflows", "run", params, go, "enrolled", "actions", keep_counts=True)
    return result, reports[0]


def step_run(ctx: StepContext) -> StepResult:
    return run_logged(ctx.wh, ctx.project, now=dt.datetime.now(dt.timezone.utc))[0]


def _notes(result: StepResult) -> list[str]:
    out = []
    if result.details.get("parked"):
        out.append(f"workflows.run: {result.details['parked']} entities parked; see `martops workflows status`")
    if result.details.get("retrying"):
        out.append(f"workflows.run: {result.details['retrying']} actions failed; the next run tries again")
    return out


DOMAIN = Domain(
    name="workflows",
    title="Customer workflows (onboarding): triggers, e-mails, webhooks, tasks, waits, exactly-once action log",
    steps=(
        Step("workflows.run", "Enrol entities the workflows' triggers found since the stored watermark, stop those "
             "that met a stop_when goal, and run every due step (e-mail, webhook, task, list, wait, branch), each "
             "recorded once in ops.workflow_actions", step_run,
             outputs=(T.ENTITIES, T.ACTIONS, T.WATERMARKS, T.TASKS, T.LIST_MEMBERS),
             skip_reason=lambda ctx: None if ctx.project.workflows else "martops.yml declares no workflows"),
    ),
    tables=(
        TableSpec(T.ENTITIES, ("workflow", "entity_id"), "one row per enrolled entity: status, next step, due_at",
                  indexes=(("workflow", "status"),)),
        TableSpec(T.ACTIONS, ("idempotency_key",), "the action log, one row per (workflow, step, entity)",
                  indexes=(("workflow", "entity_id"),)),
        TableSpec(T.WATERMARKS, ("workflow",), "per workflow: the highest trigger value read"),
        TableSpec(T.TASKS, ("idempotency_key",), "tasks written by task steps"),
        TableSpec(T.LIST_MEMBERS, ("idempotency_key",), "list memberships written by list steps"),
    ),
    summary_notes=_notes,
    build_hint="declare workflows in martops.yml and run them: martops workflows run --dry-run",
)
