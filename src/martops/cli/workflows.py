"""`martops workflows run|status|history|retry`: the workflows martops.yml declares (see
martops.workflows.engine for what a run does and what is guaranteed)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from martops.cli.common import CONFIG, WAREHOUSE, connect_warehouse, open_warehouse, parse_moment
from martops.cli.render import console, fitted_table, left_out_note
from martops.config import load_config
from martops.ops.runlog import invocation, new_run_id
from martops.workflows import engine, views
from martops.workflows.domain import ActionsFailed, run_logged

workflows_app = typer.Typer(
    help="Customer workflows (onboarding): triggers, e-mails, webhooks, tasks, waits; each action once.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

NOW = typer.Option(None, "--now", help="The run's clock (ISO 8601; without an offset it is UTC), e.g. "
                   "2024-06-03T09:00: waits, due steps and 'up to now' reads use it. Default: now.")
WORKFLOW = typer.Option(None, "--workflow", help="Only this workflow (default: every one martops.yml declares).")
HINT = "run the workflows first: martops workflows run --dry-run, then martops workflows run"
COUNTS = ("enrolled", "duplicates", "done", "waiting", "parked", "retrying", "stopped", "completed")


@workflows_app.command()
def run(
    dry_run: bool = typer.Option(False, "--dry-run", help="Show every action the run would take, with the rendered "
                                 "message or request, and send, write and record nothing."),
    now: Optional[str] = NOW, workflow: Optional[list[str]] = typer.Option(
        None, "--workflow", help="Only these workflows (repeatable; default: every one martops.yml declares)."),
    limit: Optional[int] = typer.Option(None, "--limit", "-n", min=0, help="Events to list (0: all; default: all in "
                                        "a dry run, 50 otherwise); the counts cover every one."),
    allow_earlier_now: bool = typer.Option(False, "--allow-earlier-now", help="Run even though the clock is before "
                                           "a workflow's last run (refused otherwise): once, after a run with a "
                                           "--now in the future by mistake."),
    warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG,
) -> None:
    """Run the workflows once: enrol what the triggers found since the stored watermark, stop entities
    whose stop_when goal holds, and run every due step (e-mail, webhook, task, list, wait, branch).

    Each (workflow, step, entity) happens at most once: it is recorded in ops.workflow_actions before
    and after it, and a recorded one is never repeated. Exits 1 when actions failed temporarily after
    every retry, or because a server refuses every message (a login or token refused, a webhook URL
    gone): they are tried again by the next run. Any other permanent failure parks the entity
    (`martops workflows status`, then `martops workflows retry`); a run that parked any entity exits
    1 too, with one line naming them, even when the others went through: a scheduler must notice
    (a dry run lists what it would park and exits 0).
    A schedule with `select: [workflows]` runs the same step (workflows.run) every few minutes.

    The clock (--now, else the real one) may not go back: a run at a clock earlier than a
    workflow's last run is refused, naming that run's clock (the same clock again is fine).

    Example:

      martops workflows run --dry-run

      martops workflows run --now 2024-06-03T09:00 --workflow onboarding
    """
    moment = parse_moment(now, "--now")
    limit = (0 if dry_run else 50) if limit is None else limit
    cfg = load_config(config)
    chosen = engine.selected(cfg, workflow)
    if dry_run:
        wh = connect_warehouse(cfg, warehouse, read_only=True)
        with wh:
            report = engine.Run(wh, cfg, chosen, moment, new_run_id(), dry_run=True,
                                allow_earlier=allow_earlier_now).run()
        _print(report, limit)
        return
    _, wh = open_warehouse(config, warehouse)
    with wh, invocation():
        try:
            _, report = run_logged(wh, cfg, now=moment, only=workflow, allow_earlier=allow_earlier_now)
        except ActionsFailed as exc:
            _print(exc.report, limit)
            raise
    _print(report, limit)


def _print(report: engine.Report, limit: int) -> None:
    head = "dry run: nothing is sent, written or recorded" if report.dry_run else f"run {report.run_id}"
    console.print(escape(f"workflows at {report.now:%Y-%m-%d %H:%M} UTC ({head})"), highlight=False)
    events = report.events if not limit else report.events[:limit]
    if report.dry_run:
        for e in events:
            line = f"{e.outcome}: {e.workflow} / entity {e.entity_id} / step {e.step} ({e.kind})"
            console.print(escape(line + (f": {e.detail}" if e.detail and not e.content else "")), highlight=False)
            if e.content:
                for text in e.content.splitlines():
                    console.print(escape(f"    {text}"), highlight=False)
    elif events:
        rows = [[escape(x) for x in (e.workflow, e.entity_id, e.step, e.outcome, e.detail)] for e in events]
        table, left_out = fitted_table("What the run did", ["workflow", "entity", "step", "outcome", "detail"], rows,
                                       keep=2, flex={"detail"})
        console.print(table)
        left_out_note(left_out)
    if len(events) < len(report.events):
        console.print(f"... and {len(report.events) - len(events):,} more events (--limit 0 lists them all)")
    rows = [[escape(name), *(f"{getattr(c, k):,}" for k in COUNTS)] for name, c in report.counts.items()]
    table, _ = fitted_table("Workflows" + (" (would)" if report.dry_run else ""), ["workflow", *COUNTS], rows,
                            right=set(COUNTS))
    console.print(table)
    for note in report.notes:
        console.print(escape(f"note: {note}"), highlight=False)


@workflows_app.command()
def status(
    now: Optional[str] = NOW, workflow: Optional[str] = WORKFLOW, limit: int = typer.Option(
        30, "--limit", "-n", min=0, help="Entities needing attention to list (0: all)."),
    warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG,
) -> None:
    """Per workflow: entities active (due now, waiting), parked, stopped and completed, actions in
    doubt or failing, the trigger's watermark; then each parked or failing entity with its reason.

    Example:

      martops workflows status

      martops workflows status --workflow onboarding
    """
    cfg, wh = open_warehouse(config, warehouse, read_only=True)
    with wh:
        rows = views.status(wh, cfg, workflow, engine.naive_utc(parse_moment(now, "--now")))
        needing = views.attention(wh, cfg, workflow)
    columns = ["workflow", "active", "due now", "waiting", "parked", "stopped", "completed", "in doubt", "failing",
               "watermark", "declared"]
    cells = [[escape(str(r[c] if r[c] is not None else "-")) for c in columns] for r in rows]
    table, left_out = fitted_table("Workflows", columns, cells, right=set(columns[1:9]), flex={"watermark"})
    console.print(table)
    left_out_note(left_out)
    if not needing:
        console.print("No entity is parked, failing or in doubt.")
        return
    shown = needing[:limit] if limit else needing
    cells = [[escape(str(r[c] if r[c] is not None else "-")) for c in ("workflow", "entity_id", "status", "step",
                                                                      "attempts", "reason")] for r in shown]
    table, left_out = fitted_table(f"Needing attention ({len(needing):,})", ["workflow", "entity", "status", "step",
                                                                           "attempts", "reason"], cells, keep=2,
                                   right={"attempts"}, flex={"reason"})
    console.print(table)
    left_out_note(left_out)
    if len(shown) < len(needing):
        console.print(f"... and {len(needing) - len(shown):,} more (--limit 0 lists them all)")
    if any(r["status"] == "parked" for r in needing):
        console.print("Parked entities wait for a person: fix the cause, then `martops workflows retry ENTITY` (or "
                      "--all) and the next run resumes them at that step.")


@workflows_app.command()
def history(
    entity: str = typer.Argument(..., help="The entity id (the trigger key, as text)."),
    workflow: Optional[str] = WORKFLOW, warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG,
) -> None:
    """Everything that happened to one entity, in the order it happened: enrolment, each step with
    its outcome, attempts and details (recipient, subject, Message-ID, HTTP status), each park with
    its reason, each `workflows retry` with the command and user@host, stops; and where it is now.

    Times are the runs' clocks (`--now`), UTC; a retry's is the real time the command ran.

    Example:

      martops workflows history 1042
    """
    cfg, wh = open_warehouse(config, warehouse, read_only=True)
    with wh:
        states, log = views.history(wh, cfg, entity, workflow)
    for s in states:
        where = f"at step {s['step']}, due {s['due_at']:%Y-%m-%d %H:%M}" if s["step"] and s["due_at"] else ""
        console.print(escape(f"{s['workflow']}: entity {s['entity_id']} is {s['status']} {where}".rstrip()
                             + (f" ({s['reason']})" if s["reason"] else "")
                             + f"; enrolled {s['enrolled_at']:%Y-%m-%d %H:%M}"), highlight=False)
    rows = []
    for r in log:
        detail = ", ".join(f"{k}={v}" for k, v in r["detail"].items() if k not in ("response",))
        rows.append([escape(x) for x in (f"{r['occurred_at']:%Y-%m-%d %H:%M}", r["workflow"], r["step"], r["kind"], r["status"],
                                         str(r["attempts"] or ""), (r["error"] or detail))])
    table, left_out = fitted_table(f"History of {entity}", ["at (UTC)", "workflow", "step", "kind", "status",
                                                            "attempts", "detail / error"], rows, keep=3,
                                   right={"attempts"}, flex={"detail / error"})
    console.print(table)
    left_out_note(left_out)


@workflows_app.command()
def retry(
    entities: Optional[list[str]] = typer.Argument(None, help="Parked entity ids to resume."),
    every: bool = typer.Option(False, "--all", help="Resume every parked entity (of --workflow, else of all)."),
    workflow: Optional[str] = WORKFLOW, warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG,
) -> None:
    """Resume parked entities at the step that failed: the next run (`martops workflows run`, or the
    schedule) tries that step again, with the same idempotency key, then goes on with the rest.

    Example:

      martops workflows retry 1042

      martops workflows retry --all --workflow onboarding && martops workflows run
    """
    command = shlex.join(["martops", "workflows", "retry", *(entities or []), *(["--all"] if every else []),
                          *(["--workflow", workflow] if workflow else [])])  # no --config/--warehouse: a DSN's password
    cfg, wh = open_warehouse(config, warehouse)
    with wh:
        done = views.retry(wh, cfg, list(entities or []), workflow, every, command)
    for p in done:
        console.print(escape(f"{p['workflow']}: entity {p['entity_id']} resumes at step {p['step']} (was parked: "
                             f"{p['reason']})"), highlight=False)
    console.print(f"{len(done):,} entit{'y' if len(done) == 1 else 'ies'} resumed; the next `martops workflows run` "
                  "runs them.")
