"""One run of the project's workflows: enrol what the triggers found, stop what reached its goal,
and move every due entity through its steps until a wait, the end, or a failure.

Exactly once, and what that means (the README's "Workflows" section says the same):

- Each (workflow, step, entity) has one idempotency key (`idempotency_key`), the primary key of
  its row in ops.workflow_actions. Before an e-mail or a webhook leaves, its row is committed as
  `started`; after the server accepted it, the row becomes `done` in the same transaction that
  moves the entity on. A step whose row is `done` is never run again: not by a re-run, a
  duplicate trigger (an entity is enrolled once per workflow) or a restart.
- Task and list steps write their row, the log's `done` and the entity's move in one
  transaction: exactly once, with no window at all.
- The one window: the process dies (or the warehouse becomes unreachable) after the server
  accepted a message and before `done` was committed. The row then stays `started`, and the next
  run cannot know whether the message arrived. With `in_doubt: resend` (default) it sends it again
  with the same key (`Idempotency-Key` header, the same Message-ID), so a receiver that drops
  repeated keys acts once, and one that does not may see that message twice; each crash in that
  window can add one such copy. With `in_doubt: park` the entity is parked instead, for a person
  to check and `martops workflows retry`.

Two runs never interleave: each holds the warehouse's write lock (the DuckDB file lock, a
PostgreSQL advisory lock) from start to end.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import time
from typing import Any, Callable

import httpx

from martops.config import ProjectConfig
from martops.config_workflows import Step, Workflow, parse_condition
from martops.engine import Warehouse
from martops.errors import ConfigError
from martops.workflows import actions, render, triggers, webhook
from martops.workflows import tables as T
from martops.workflows.store import Action, Entity, Park, Row, Store, last_clock, set_after

log = logging.getLogger(__name__)


def idempotency_key(workflow: str, step: str, entity_id: str) -> str:
    """The same text for the same (workflow, step, entity) on every run and machine (no PII in it)."""
    digest = hashlib.sha256("\x1f".join((workflow, step, entity_id)).encode("utf-8")).hexdigest()
    return f"mo-{digest[:40]}"


@dataclasses.dataclass
class Event:
    """One thing a run did (or, dry, would do), in order, for the CLI to show."""

    workflow: str
    entity_id: str
    step: str
    kind: str
    outcome: str
    """enrolled, sent, written, waiting, branched, stopped, completed, parked, failed, would send, ..."""
    detail: str = ""
    content: str | None = None
    """The rendered message, request or row (dry runs show it)."""


@dataclasses.dataclass
class Counts:
    enrolled: int = 0
    duplicates: int = 0
    done: int = 0
    """Effects that happened (or, dry, would happen): e-mails, webhooks, tasks, list rows."""
    waiting: int = 0
    parked: int = 0
    retrying: int = 0
    """Actions that failed temporarily after every attempt, or on a channel refusing every action
    (a login refused): the next run tries again."""
    stopped: int = 0
    completed: int = 0


@dataclasses.dataclass
class Report:
    run_id: str
    now: dt.datetime
    dry_run: bool
    counts: dict[str, Counts]
    events: list[Event]
    notes: list[str]

    @property
    def total(self) -> Counts:
        """The counts of every workflow added up."""
        return Counts(*(sum(getattr(c, f.name) for c in self.counts.values()) for f in dataclasses.fields(Counts)))


@dataclasses.dataclass
class Prepared:
    """An effect rendered for one entity, ready to happen: `perform()` does it."""

    detail: dict[str, Any]
    content: str
    channel: str
    """What a failure takes down for the rest of the run (`smtp`, `webhook:<name>`)."""
    perform: Callable[[], dict[str, Any]] | None = None
    rows: list[Row] = dataclasses.field(default_factory=list)


def naive_utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


def selected(cfg: ProjectConfig, only: list[str] | None) -> dict[str, Workflow]:
    """The workflows to act on: `only` (names; an unknown one is an error) or every one declared."""
    if not cfg.workflows:
        raise ConfigError("martops.yml declares no workflows; add a `workflows:` section (see the README's "
                          "Workflows section)")
    for name in only or []:
        if name not in cfg.workflows:
            raise ConfigError(f"--workflow {name!r} is not a workflow of martops.yml; workflows: "
                              f"{', '.join(cfg.workflows)}")
    return {n: w for n, w in cfg.workflows.items() if not only or n in only}


class Run:
    """One run over `workflows` at the clock `now` (aware or naive UTC). `allow_earlier`: run even
    when `now` is before the clock of a workflow's last run (refused otherwise)."""

    def __init__(self, wh: Warehouse, cfg: ProjectConfig, workflows: dict[str, Workflow], now: dt.datetime,
                 run_id: str, *, dry_run: bool, sleep: Callable[[float], None] = time.sleep,
                 allow_earlier: bool = False):
        self.wh, self.cfg, self.workflows, self.run_id = wh, cfg, workflows, run_id
        self.now, self.dry, self.sleep, self.allow_earlier = naive_utc(now), dry_run, sleep, allow_earlier
        self.events: list[Event] = []
        self.notes: list[str] = []
        self.counts = {name: Counts() for name in workflows}
        self.files: dict[str, str] = {}
        self.down: dict[str, str] = {}
        """Channels that failed temporarily or refuse everything this run -> why: later actions on
        them wait for the next run."""
        self._http: httpx.Client | None = None

    # -- before anything is read or sent ------------------------------------------------------
    def preflight(self) -> None:
        """Tables, columns, templates, endpoints and secrets: a mistake stops the run before any row is
        read or any message sent (a dry run notes a missing secret instead: it sends nothing)."""
        own: list[tuple[str, Any]] = []
        for name, wf in self.workflows.items():
            if not wf.enabled:
                continue
            self._clock(name)
            triggers.check(self.wh, name, wf)
            self.notes += triggers.unmatched(self.wh, name, wf)
            render.check(name, wf, list(self.wh.table(wf.trigger.table).columns), self.files)
            for step_name, step in wf.steps.items():
                where = f"workflows.{name}.steps.{step_name}"
                if step.email is not None and self.cfg.smtp is not None:  # present: the file's validation
                    self._secret(self.cfg.smtp.password)
                if step.webhook is not None:
                    hook = self.cfg.webhooks[step.webhook.endpoint]
                    self._secret(lambda: (webhook.url(step.webhook.endpoint, hook),
                                          webhook.headers(step.webhook.endpoint, hook)))
                for table, schema in ((step.task.table, T.TASK_SCHEMA) if step.task else (None, None),
                                      (step.list_.table, T.LIST_SCHEMA) if step.list_ else (None, None)):
                    if table is not None:
                        self._own_table(where, table, schema)
                        own.append((table, schema))
        if not self.dry:  # only once everything checked out: a refused run creates nothing
            for table, schema in own:
                self.wh.ensure_table(table, schema)

    def _clock(self, name: str) -> None:
        """Refuse a clock earlier than `name`'s last run: the times that run recorded (the ends of
        waits, enrolments, the trigger's watermark, stop_when goals as of its clock) lie after this
        one, so steps would run out of order and new rows wait unread. The same clock again is fine
        (a re-run of a day). With `allow_earlier`, a note, and this clock becomes the last one."""
        last = last_clock(self.wh, name)
        if last is None or self.now >= last:
            return
        said = (f"the run's clock {self.now:%Y-%m-%d %H:%M:%S} UTC is before the last run of workflow {name}, at "
                f"{last:%Y-%m-%d %H:%M:%S} UTC")
        if not self.allow_earlier:
            raise ConfigError(f"{said}: waits, due steps and the trigger's watermark it recorded lie after this "
                              f"clock, so steps would run out of order; give --now {last:%Y-%m-%dT%H:%M:%S} or "
                              "later, or, if that run's clock was the mistake, run `martops workflows run "
                              "--allow-earlier-now` once")
        waiting, latest = set_after(self.wh, name, self.now)
        kept = (f"; what the later run did stays (what it sent went out; {waiting} entit"
                f"{'y waits' if waiting == 1 else 'ies wait'} until times it set, the latest {latest:%Y-%m-%d %H:%M} "
                "UTC; the trigger reads on from its watermark)") if waiting else ""
        self.notes.append(f"{said} (--allow-earlier-now): " + ("a real run records this clock as its last" if self.dry
                                                               else "this clock is recorded as its last from now on")
                          + kept)

    def _secret(self, read: Callable[[], object]) -> None:
        try:
            read()
        except ConfigError as exc:
            if not self.dry:
                raise
            note = f"{exc} (a real run stops here; this dry run sends nothing)"
            if note not in self.notes:  # one per secret, not one per step using it
                self.notes.append(note)

    def _own_table(self, where: str, table: str, schema: Any) -> None:
        from martops import domains

        writer = domains.graph().writer(table)
        if writer is not None and writer != "workflows.run":
            raise ConfigError(f"{where}: {table} is written by {writer}, which would replace the rows; give a "
                              "table of its own")
        if self.wh.exists(table):
            missing = [c for c in schema.names if c not in self.wh.table(table).columns]
            if missing and self.dry:
                self.notes.append(f"{table} lacks the columns {', '.join(missing)}; a real run adds them")

    # -- the run ------------------------------------------------------------------------------
    def run(self) -> Report:
        self.preflight()
        try:
            for name, wf in self.workflows.items():
                if wf.enabled:
                    self._workflow(name, wf)
                else:
                    self.notes.append(f"workflow {name} is disabled (enabled: false): left alone")
        finally:
            if self._http is not None:
                self._http.close()
        return Report(self.run_id, self.now, self.dry, self.counts, self.events, self.notes)

    def _workflow(self, name: str, wf: Workflow) -> None:
        store = Store(self.wh, name, self.run_id, dry=self.dry)
        counts = self.counts[name]
        trig = wf.trigger
        stored = store.watermark(trig.table, trig.watermark) if trig.watermark else None
        found = triggers.read(self.wh, name, trig, stored, self.now)
        first = next(iter(wf.steps))
        entities, log_rows = [], []
        for entity_id, row, value in found.new:
            entities.append(Entity(name, entity_id, T.ACTIVE, first, self.now, self.now, row, value))
            log_rows.append(self._action(name, T.ENROL_STEP, entity_id, "enrol", T.DONE,
                                         {"table": trig.table, trig.watermark or "key": value or entity_id}))
            self.events.append(Event(name, entity_id, T.ENROL_STEP, "enrol", "enrolled",
                                     f"from {trig.table}" + (f" ({trig.watermark} {value})" if value else "")))
        store.save(entities, log_rows, watermark=found.watermark, clock=self.now)
        counts.enrolled, counts.duplicates = len(entities), found.duplicates
        if found.duplicates:
            self.notes.append(f"{name}: {found.duplicates} duplicate trigger row(s) of entities already enrolled "
                              "were ignored")
        met = self._conditions(wf, store)
        for e in store.active():
            goal = next((text for text in wf.stop_when if self._holds(text, e, met)), None)
            if goal is not None:
                self._end(store, e, T.STOPPED, f"stop_when: {goal}", self._action(
                    name, T.GOAL_STEP, e.entity_id, "stop", T.DONE, {"condition": goal, "at_step": e.step}))
                counts.stopped += 1
        for e in store.due(self.now):
            self._advance(name, wf, store, e, met)
        counts.waiting = sum(1 for e in store.active() if e.due_at is not None and e.due_at > self.now)

    def _conditions(self, wf: Workflow, store: Store) -> dict[str, set[str]]:
        """Per condition the active entities it holds for, as of the run's clock (one query each)."""
        used = {parse_condition(t)[1] for t in wf.stop_when}
        used |= {parse_condition(s.branch.if_)[1] for s in wf.steps.values() if s.branch is not None}
        ids = [e.entity_id for e in store.active()]
        return {c: triggers.holding(self.wh, wf.conditions[c], wf.trigger.key, ids, self.now) for c in sorted(used)}

    @staticmethod
    def _holds(text: str, e: Entity, met: dict[str, set[str]]) -> bool:
        negated, name = parse_condition(text)
        return (e.entity_id in met[name]) != negated

    def _action(self, workflow: str, step: str, entity_id: str, kind: str, status: str, detail: dict,
                previous: Action | None = None, error: str | None = None) -> Action:
        return Action(idempotency_key(workflow, step, entity_id), workflow, step, entity_id, kind, status, self.now,
                      previous.first_at if previous else self.now, previous.attempts if previous else 0, detail, error)

    def _end(self, store: Store, e: Entity, status: str, reason: str, action: Action) -> None:
        ended = dataclasses.replace(e, status=status, step=None, due_at=None, reason=reason)
        store.save([ended], [action])
        self.events.append(Event(e.workflow, e.entity_id, action.step, action.kind, status, reason))

    def _moved(self, wf: Workflow, e: Entity, target: str | None) -> Entity:
        """`e` at step `target` (None: past the last step: completed), due now."""
        if target is None:
            return dataclasses.replace(e, status=T.COMPLETED, step=None, due_at=None, reason="every step done")
        return dataclasses.replace(e, step=target, due_at=self.now, reason=None)

    def _advance(self, name: str, wf: Workflow, store: Store, e: Entity, met: dict[str, set[str]]) -> None:
        """Run `e`'s steps from its current one until a wait, the end, a park or a temporary failure."""
        names = list(wf.steps)
        counts = self.counts[name]
        for _ in range(len(names) + 1):  # branches go forward only: at most one pass over the steps
            if e.status != T.ACTIVE or e.step is None or e.due_at is None or e.due_at > self.now:
                break
            if e.step not in wf.steps:  # martops.yml renamed or removed the step this entity was at
                self._park(store, e, store.actions.get(idempotency_key(name, e.step, e.entity_id)) or self._action(
                    name, e.step, e.entity_id, "missing", T.FAILED, {}),
                    f"its step {e.step!r} is no longer in workflows.{name}.steps ({', '.join(names)}); put it back, "
                    "or retry after renaming it back")
                counts.parked += 1
                break
            step = wf.steps[e.step]
            after = names[names.index(e.step) + 1] if names.index(e.step) + 1 < len(names) else None
            key = idempotency_key(name, e.step, e.entity_id)
            previous = store.actions.get(key)
            if step.wait is not None:
                e = self._wait(wf, store, e, step, previous, after)
            elif step.branch is not None:
                holds = self._holds(step.branch.if_, e, met)
                target = step.branch.then if holds else step.branch.else_
                detail = {"condition": step.branch.if_, "holds": holds, "goes_to": target}
                act = self._action(name, e.step, e.entity_id, "branch", T.DONE, detail)
                if target == "stop":
                    self._end(store, e, T.STOPPED, f"branch {e.step}: {step.branch.if_} is {holds}", act)
                    counts.stopped += 1
                    break
                moved = self._moved(wf, e, after if target == "next" else target)
                store.save([moved], [act])
                self.events.append(Event(name, e.entity_id, e.step, "branch", "branched",
                                         f"{step.branch.if_}: {'yes' if holds else 'no'} -> {target}"))
                e = moved
            elif step.stop is not None:
                self._end(store, e, T.STOPPED, f"stop {e.step}: {step.stop}",
                          self._action(name, e.step, e.entity_id, "stop", T.DONE, {"reason": step.stop}))
                counts.stopped += 1
                break
            else:
                moved = self._effect(name, wf, store, e, step, previous, after)
                if moved is None:
                    break
                e = moved
            if e.status == T.COMPLETED:
                counts.completed += 1
                self.events.append(Event(name, e.entity_id, "-", "end", "completed", "every step done"))
                break

    def _wait(self, wf: Workflow, store: Store, e: Entity, step: Step, previous: Action | None,
              after: str | None) -> Entity:
        assert step.wait is not None
        if previous is None or previous.status != T.WAITING:
            until = self.now + step.wait.delta
            act = self._action(e.workflow, e.step or "", e.entity_id, "wait", T.WAITING, {"until": until.isoformat(" ")})
            waiting = dataclasses.replace(e, due_at=until)
            store.save([waiting], [act])
            self.events.append(Event(e.workflow, e.entity_id, e.step or "", "wait", "waiting", f"until {until:%Y-%m-%d %H:%M}"))
            return waiting
        moved = self._moved(wf, e, after)
        store.save([moved], [dataclasses.replace(previous, status=T.DONE, occurred_at=self.now)])
        return moved

    def _effect(self, name: str, wf: Workflow, store: Store, e: Entity, step: Step, previous: Action | None,
                after: str | None) -> Entity | None:
        """An e-mail, webhook, task or list step; the entity moved on, or None when it stays (parked,
        waiting for the next run after a temporary failure)."""
        counts, step_name = self.counts[name], e.step or ""
        key = idempotency_key(name, step_name, e.entity_id)
        if previous is not None and previous.status == T.DONE:  # recorded done: never again
            moved = self._moved(wf, e, after)
            store.save([moved])
            return moved
        in_doubt = previous is not None and previous.status == T.STARTED
        if in_doubt and wf.in_doubt == "park":
            self._park(store, e, previous, f"in doubt: {step.kind} was started at {previous.occurred_at:%Y-%m-%d %H:%M} and "
                       "never recorded as done (the run died); check whether it arrived, then `martops workflows "
                       "retry` resends it with the same idempotency key")
            counts.parked += 1
            return None
        try:
            prepared = self._prepare(name, wf, e, step, key)
        except (render.RenderProblem, actions.ActionFailed) as exc:
            self._park(store, e, previous or self._action(name, step_name, e.entity_id, step.kind, T.FAILED, {}),
                       f"{step_name}: {exc}")
            counts.parked += 1
            return None
        if self.dry:
            moved = self._moved(wf, e, after)
            store.save([moved], [self._action(name, step_name, e.entity_id, step.kind, T.DONE, prepared.detail, previous)])
            self.events.append(Event(name, e.entity_id, step_name, step.kind,
                                     "would resend" if in_doubt else "would " + _verb(step.kind),
                                     _summary(prepared.detail), prepared.content))
            counts.done += 1
            return moved
        if prepared.channel in self.down:
            failed = self._action(name, step_name, e.entity_id, step.kind, T.FAILED, prepared.detail, previous,
                                  error=f"not tried: {self.down[prepared.channel]}")
            store.save([], [failed])
            self.events.append(Event(name, e.entity_id, step_name, step.kind, "deferred", failed.error or ""))
            counts.retrying += 1
            return None
        if prepared.perform is None:  # a warehouse row: written with the log and the move, in one transaction
            moved = self._moved(wf, e, after)
            store.save([moved], [self._action(name, step_name, e.entity_id, step.kind, T.DONE, prepared.detail,
                                              previous)], rows=prepared.rows)
            self.events.append(Event(name, e.entity_id, step_name, step.kind, "written", _summary(prepared.detail)))
            counts.done += 1
            return moved
        started = self._action(name, step_name, e.entity_id, step.kind, T.STARTED, prepared.detail, previous)
        store.begin(started)
        try:
            result, tries = actions.attempt(prepared.perform, wf.retry, self.sleep)
        except actions.ActionFailed as exc:
            tried = dataclasses.replace(started, attempts=started.attempts + exc.attempts)
            if exc.temporary or exc.blocking:
                if not exc.own:  # one mailbox refused for now (full, greylisted) holds back no one else
                    self.down[prepared.channel] = f"{prepared.channel} failed earlier in this run ({exc})"
                store.save([], [dataclasses.replace(tried, status=T.FAILED, error=str(exc))])
                self.events.append(Event(name, e.entity_id, step_name, step.kind, "failed", f"{exc} " + (
                    f"(after {exc.attempts} attempt(s); the next run tries again)" if exc.temporary else
                    "(the same for every entity, so none is parked: fix the settings; the next run tries again)")))
                counts.retrying += 1
            else:
                self._park(store, e, tried, f"{step_name}: {exc}")
                counts.parked += 1
            return None
        done = dataclasses.replace(started, status=T.DONE, attempts=started.attempts + tries,
                                   detail={**prepared.detail, **result}, error=None)
        moved = self._moved(wf, e, after)
        store.save([moved], [done])
        self.events.append(Event(name, e.entity_id, step_name, step.kind, "resent" if in_doubt else "sent",
                                 _summary(done.detail) + (f" after {tries} attempts" if tries > 1 else "")))
        counts.done += 1
        return moved

    def _park(self, store: Store, e: Entity, action: Action, reason: str) -> None:
        parked = dataclasses.replace(e, status=T.PARKED, reason=reason)
        row = dataclasses.replace(action, status=T.PARKED, occurred_at=self.now, error=reason)
        store.save([parked], [row], parks=[Park(row, reason)])
        self.events.append(Event(e.workflow, e.entity_id, e.step or "", action.kind, "parked", reason))

    # -- rendering an effect ------------------------------------------------------------------
    def _prepare(self, name: str, wf: Workflow, e: Entity, step: Step, key: str) -> Prepared:
        top = f"workflows.{name}.steps.{e.step}"
        variables = {**e.context, "entity_id": e.entity_id, "workflow": name, "step": e.step,
                     "idempotency_key": key, "now": self.now, "enrolled_at": e.enrolled_at}
        if step.email is not None:
            return self._email(top, step, variables, key, name)
        if step.webhook is not None:
            return self._webhook(top, step, variables, key, e)
        base = {"idempotency_key": key, "workflow": name, "step": e.step, "entity_id": e.entity_id,
                "run_id": self.run_id}
        if step.task is not None:
            t = step.task
            title = render.render(t.title, variables, f"{top}.task.title")
            assignee = render.render(t.assignee, variables, f"{top}.task.assignee")
            notes = render.render(t.notes, variables, f"{top}.task.notes") if t.notes else None
            due = self.now + dt.timedelta(days=t.due_in_days)
            values = {**base, "title": title, "assignee": assignee, "notes": notes, "due_at": due,
                      "created_at": self.now, "status": "open"}
            return Prepared({"table": t.table, "title": title, "assignee": assignee, "due_at": due.isoformat(" ")},
                            f"INSERT INTO {t.table}: task for {assignee}: {title} (due {due:%Y-%m-%d})"
                            + (f"\n{notes}" if notes else ""), f"table:{t.table}", rows=[Row(t.table, values)])
        assert step.list_ is not None
        lst = step.list_
        values = {**base, "list_name": lst.name, "added_at": self.now}
        return Prepared({"table": lst.table, "list": lst.name}, f"INSERT INTO {lst.table}: {e.entity_id} joins list "
                        f"{lst.name}", f"table:{lst.table}", rows=[Row(lst.table, values)])

    def _email(self, top: str, step: Step, variables: dict, key: str, name: str) -> Prepared:
        from martops.workflows import mail

        assert step.email is not None
        settings = self.cfg.smtp
        assert settings is not None  # the project file refuses an email step without smtp:
        to = render.render(step.email.to, variables, f"{top}.email.to").strip()
        subject = render.render(step.email.subject, variables, f"{top}.email.subject")
        body = render.render(render.body_of(f"{top}.email", step.email.template, step.email.body, self.files),
                             variables, f"{top}.email.body")
        msg, message_id = mail.message(to, subject, body, key, name, settings.sender)
        shown = (f"To: {msg['To']}\nFrom: {settings.sender}\nSubject: {msg['Subject']}\nMessage-ID: {message_id}\n"
                 f"X-Martops-Idempotency-Key: {key}\n\n{body}")
        return Prepared({"to": msg["To"], "subject": msg["Subject"], "message_id": message_id}, shown, "smtp",
                        perform=lambda: mail.send(msg, message_id, settings))

    def _webhook(self, top: str, step: Step, variables: dict, key: str, e: Entity) -> Prepared:
        assert step.webhook is not None
        endpoint = step.webhook.endpoint
        hook = self.cfg.webhooks[endpoint]
        body = (render.render_json(step.webhook.json_body, variables, f"{top}.webhook.json")
                if step.webhook.json_body is not None else
                {"workflow": e.workflow, "step": e.step, "entity_id": e.entity_id, "idempotency_key": key,
                 "data": e.context})
        try:
            address = webhook.url(endpoint, hook)
        except ConfigError:  # a dry run without the secret: preflight noted it
            address = None
        where = webhook.shown(endpoint, hook, address)
        shown = f"POST {where}\nIdempotency-Key: {key}\nContent-Type: application/json\n\n" + json.dumps(
            body, indent=2, ensure_ascii=False, default=str)

        def perform() -> dict[str, Any]:
            if self._http is None:
                self._http = httpx.Client()
            return webhook.post(self._http, endpoint, hook, body, key)

        return Prepared({"endpoint": endpoint, "url": where}, shown, f"webhook:{endpoint}", perform=perform)


def _verb(kind: str) -> str:
    return {"email": "send", "webhook": "post"}.get(kind, "write")


def _summary(detail: dict[str, Any]) -> str:
    keys = ("to", "subject", "url", "http_status", "table", "title", "assignee", "list", "message_id")
    return ", ".join(f"{k}={detail[k]}" for k in keys if detail.get(k) is not None)
