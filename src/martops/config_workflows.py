"""The `workflows:` and `webhooks:` sections of martops.yml: automated sequences per customer (issue 21).

    webhooks:
      sales-slack: {url_env: SLACK_WEBHOOK_URL}          # the URL holds Slack's secret: from the environment
    workflows:
      onboarding:
        trigger: {table: staging.usage_people, key: user_id, watermark: created_at}
        conditions:
          activated: {table: staging.usage_events, match: user_id, where: {event_type: [export_report]}, time: event_at}
        stop_when: [activated]
        steps:
          welcome: {email: {to: "{{ email }}", subject: "Welcome, {{ name }}", body: "..."}}
          wait-2-days: {wait: {days: 2}}
          tips: {email: {to: "{{ email }}", subject: "Three tips", template: templates/tips.txt}}
          wait-5-days: {wait: {days: 5}}
          check-in: {task: {title: "Check in with {{ name }}", assignee: "{{ company }} account owner"}}

Steps run in the order written; each has a name (the key) and exactly one kind. Names identify a
step in the action log and in its idempotency key, so renaming a step makes it a new step for
entities that have not reached it yet. What a run does with them is in `martops.workflows.engine`.

Lives beside config.py (which imports it); same conventions: strict (an unknown key is an error
naming it), a docstring per field. Names of tables and columns are checked against the warehouse
when a run starts (`martops.workflows.preflight`), not here: the file does not know the warehouse.
"""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
from typing import Annotated, Literal, Optional, Union

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue, Strict, field_validator, model_validator

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
_TABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*")
_ENV = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEADER = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")
WRITABLE_SCHEMAS = ("marts", "crm", "leads", "ops", "staging")
"""Schemas a task or list step may write into (the warehouse's own; `martops.engines.base.SCHEMAS`)."""
RESERVED_HEADERS = {"idempotency-key", "content-type", "content-length", "host"}
RESERVED_STEPS = {"next", "stop"}
"""Branch targets that are not step names."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def environment() -> SandboxedEnvironment:
    """The one Jinja environment of workflow templates: sandboxed (a template is configuration, not
    code), a variable the row lacks is an error rather than an empty string, an empty value (NULL)
    prints as nothing rather than Python's `None` ("Hi None," in a customer's inbox; `{{ company or
    'there' }}` gives a fallback), no HTML escaping (the texts are plain-text mail bodies and JSON
    values, escaped by their own encoders)."""
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True,
                                finalize=_blank_null)


def _blank_null(value: object) -> object:
    return "" if value is None else value


def template_problem(text: str) -> str | None:
    """What keeps `text` from being a usable template (`line 2: no filter named 'upcase'`), or None.

    Parsing alone lets a filter or test name that does not exist through (Jinja looks names up
    when it compiles, and inside an `{% if %}` only when that branch renders), so every name is
    looked up here: a typo is a mistake in the file, not a failure per customer at send time."""
    env = environment()
    try:
        tree = env.parse(text)
        for node, known, what in ((nodes.Filter, env.filters, "filter"), (nodes.Test, env.tests, "test")):
            for found in tree.find_all(node):
                if found.name not in known:
                    return f"line {found.lineno}: no {what} named {found.name!r}"
        env.compile(tree)
    except TemplateSyntaxError as exc:
        return f"line {exc.lineno}: {exc.message}"
    return None


def _template(value: str) -> str:
    """A Jinja template that parses (its variables are checked against the trigger table at run time)."""
    problem = template_problem(value)
    if problem:
        raise ValueError(f"must be a Jinja template that parses ({problem})")
    return value


Template = Annotated[str, Field(min_length=1), AfterValidator(_template)]
Scalar = Union[Annotated[bool, Strict()], Annotated[int, Strict()], Annotated[float, Strict()], str]
Filter = dict[str, Union[Scalar, None, list[Union[Scalar, None]]]]
"""Column -> a value (equal to it; null: the column is empty) or a list of values (one of them), all met."""


def _table_name(v: str) -> str:
    v = v.strip()
    if not _TABLE.fullmatch(v):
        raise ValueError(f"must be a warehouse table written schema.table (e.g. crm.customer_golden), got {v!r}")
    return v


def _filters(v: dict) -> dict:
    for column, value in v.items():
        if not column.strip():
            raise ValueError("a column name is empty")
        if isinstance(value, list) and not value:
            raise ValueError(f"{column}: the list of values is empty; give at least one")
    return v


def _writable(v: str) -> str:
    if v.split(".", 1)[0] not in WRITABLE_SCHEMAS:
        raise ValueError(f"must be a table in one of the schemas {', '.join(WRITABLE_SCHEMAS)}, got {v!r}")
    return v


TableName = Annotated[str, AfterValidator(_table_name)]
WritableTable = Annotated[str, AfterValidator(_table_name), AfterValidator(_writable)]
Filters = Annotated[Filter, AfterValidator(_filters)]


class Trigger(_Strict):
    """What enrols an entity: the first row of its `key` in `table` that meets `where`.

    A new row (no `where`: a new golden customer, a signup) or a column reaching a value (a deal's
    stage becoming `won`, a lead becoming sales-ready: `where: {sales_ready: true}`). An entity is
    enrolled once per workflow: a later row of the same key is a duplicate trigger, counted and
    ignored. With `watermark`, a run reads only rows at or past the highest value it has seen.
    """

    table: TableName
    """The warehouse table (`schema.table`) rows appear in, e.g. crm.customer_golden, marts.lead_scores."""
    key: str
    """Its column identifying the entity (customer, lead, user): the entity id, compared as text."""
    watermark: Optional[str] = None
    """An ordered column (a timestamp, a date, a number) the run keeps the highest seen value of,
    in ops.workflow_watermarks; the next run reads rows at or past it. A timestamp or date column
    is also read only up to the run's clock (`--now`): a row stamped later has not happened yet.
    None: every row is read each run (fine for a small table such as golden customers)."""
    where: Filters = {}
    """Only rows meeting these count (e.g. {stage: won}, {sales_ready: true}, {event_type: signup})."""
    since: Optional[Union[dt.datetime, dt.date, Annotated[int, Strict()], Annotated[float, Strict()], str]] = None
    """The watermark on the first run (nothing stored yet): older rows never trigger, so adding a
    workflow does not enrol every customer there already is. Needs `watermark`."""

    @model_validator(mode="after")
    def _since_needs_watermark(self) -> "Trigger":
        if self.since is not None and self.watermark is None:
            raise ValueError("since is the first watermark: give watermark (the column it applies to) too")
        return self


class Condition(_Strict):
    """True for an entity when `table` holds at least `at_least` rows of it meeting `where`
    (e.g. activated: an event of a given type), counted up to the run's clock when `time` is given."""

    table: TableName
    match: Optional[str] = None
    """The column holding the entity id (compared as text); default: the trigger's `key`."""
    where: Filters = {}
    time: Optional[str] = None
    """A timestamp or date column: rows after the run's clock (`--now`) are not counted yet."""
    at_least: int = Field(1, ge=1)


class Retry(_Strict):
    """Attempts of one action within a run, on 5xx, 408, 429, timeouts, dropped connections and
    SMTP 4xx replies. After the last one the entity stays at the step and the next run tries again."""

    max_attempts: int = Field(4, ge=1, le=20)
    """Attempts per run, the first included."""
    backoff_seconds: float = Field(1.0, ge=0, le=300)
    """The first retry waits about this long, doubling each time (with jitter), up to max_backoff_seconds."""
    max_backoff_seconds: float = Field(30.0, ge=0, le=3600)


class EmailStep(_Strict):
    """Send one e-mail through martops.yml's `smtp:` server. Templates are Jinja, rendered with the
    trigger row's columns (`{{ email }}`, `{{ name }}`) and `entity_id`, `workflow`, `step`, `now`."""

    to: Template
    """The recipient (a template such as `{{ email }}`); a row whose address is blank or malformed parks."""
    subject: Template
    body: Optional[Template] = None
    """The plain-text body, inline."""
    template: Optional[str] = None
    """A file holding the body (relative to the working directory, like warehouse.path); or `body`."""

    @model_validator(mode="after")
    def _one_body(self) -> "EmailStep":
        if (self.body is None) == (self.template is None):
            raise ValueError("give the message body inline (body) or as a file (template), one of them")
        return self


class WebhookStep(_Strict):
    """POST a JSON document to an endpoint of `webhooks:` (Zapier's catch hooks, Slack's incoming
    webhooks and most HTTP APIs take it). Text values in `json` are Jinja templates."""

    endpoint: str
    """The name of an entry of martops.yml's `webhooks:`."""
    json_body: Optional[dict[str, JsonValue]] = Field(None, alias="json")
    """The document to send, e.g. {text: "New signup: {{ name }}"} for Slack. Default: {workflow,
    step, entity_id, idempotency_key, data: the trigger row}."""

    @field_validator("json_body")
    @classmethod
    def _templates(cls, v: Optional[dict]) -> Optional[dict]:
        for path, text in json_texts(v, "json"):
            try:
                _template(text)
            except ValueError as exc:
                raise ValueError(f"{path}: {exc}, got {text!r}") from None
        return v


def json_texts(node: object, path: str) -> list[tuple[str, str]]:
    """(key path, text) of every text value in a JSON document, e.g. ('json.blocks[0].text', '...')."""
    if isinstance(node, str):
        return [(path, node)]
    if isinstance(node, list):
        return [t for i, item in enumerate(node) for t in json_texts(item, f"{path}[{i}]")]
    if isinstance(node, dict):
        return [t for key, item in node.items() for t in json_texts(item, f"{path}.{key}")]
    return []


class TaskStep(_Strict):
    """Write a task (for a person: an account owner, a sales rep) as a row of a warehouse table."""

    title: Template
    assignee: Template
    """Who the task is for, e.g. `{{ owner_email }}` or `{{ company }} account owner`."""
    notes: Optional[Template] = None
    due_in_days: float = Field(0, ge=0, le=3650)
    """The task's due_at: the run's clock plus this."""
    table: WritableTable = "marts.workflow_tasks"


class ListStep(_Strict):
    """Add the entity to a named list (an audience, a segment), as a row of a warehouse table."""

    name: Annotated[str, Field(min_length=1)]
    table: WritableTable = "marts.workflow_list_members"


class WaitStep(_Strict):
    """Wait before the next step, counted from the run that reaches this step (its clock)."""

    days: float = Field(0, ge=0, le=3650)
    hours: float = Field(0, ge=0, le=87600)

    @model_validator(mode="after")
    def _some(self) -> "WaitStep":
        if self.days + self.hours <= 0:
            raise ValueError("wait for some time: days or hours greater than 0")
        return self

    @property
    def delta(self) -> dt.timedelta:
        return dt.timedelta(days=self.days, hours=self.hours)


def parse_condition(text: str) -> tuple[bool, str]:
    """`activated` -> (False, 'activated'); `not activated` -> (True, 'activated')."""
    words = text.split()
    if len(words) == 2 and words[0] == "not":
        return True, words[1]
    if len(words) == 1:
        return False, words[0]
    raise ValueError(f"{text!r} is not a condition: write a name of `conditions:` or `not NAME`")


class BranchStep(_Strict):
    """Go on at another step when a condition holds (e.g. skip the tips when activated)."""

    if_: str = Field(alias="if")
    """A name of the workflow's `conditions:`, or `not NAME`."""
    then: str
    """A later step's name, `next` (the step after this one) or `stop`."""
    else_: str = Field("next", alias="else")

    @field_validator("if_")
    @classmethod
    def _condition(cls, v: str) -> str:
        parse_condition(v)
        return v


STEP_KINDS = ("email", "webhook", "task", "list", "wait", "branch", "stop")


class Step(_Strict):
    """One step: exactly one of its kinds."""

    email: Optional[EmailStep] = None
    webhook: Optional[WebhookStep] = None
    task: Optional[TaskStep] = None
    list_: Optional[ListStep] = Field(None, alias="list")
    wait: Optional[WaitStep] = None
    branch: Optional[BranchStep] = None
    stop: Optional[Annotated[str, Field(min_length=1)]] = None
    """End the sequence here, with this reason (e.g. `not a fit`)."""

    @model_validator(mode="after")
    def _one_kind(self) -> "Step":
        given = [k for k in STEP_KINDS if getattr(self, "list_" if k == "list" else k) is not None]
        if len(given) != 1:
            said = " and ".join(given) if given else "none"
            raise ValueError(f"give exactly one of {', '.join(STEP_KINDS)}; got {said}")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in STEP_KINDS if getattr(self, "list_" if k == "list" else k) is not None)

    @property
    def action(self) -> BaseModel | str:
        return getattr(self, "list_" if self.kind == "list" else self.kind)


class Workflow(_Strict):
    """One automated sequence: who enters (trigger), when it ends early (stop_when), what happens."""

    trigger: Trigger
    conditions: dict[str, Condition] = {}
    """Named conditions, for `stop_when` and `branch` steps."""
    stop_when: list[str] = []
    """Conditions (names, or `not NAME`) that end an entity's sequence as soon as a run sees them
    hold: the goal (e.g. activated). Checked for every enrolled entity at every run, before any step."""
    steps: dict[str, Step]
    """Step name -> step, run in the order written."""
    retry: Retry = Retry()
    in_doubt: Literal["resend", "park"] = "resend"
    """An e-mail or webhook whose sending was recorded as started but never as finished (the process
    died in between): `resend` it with the same idempotency key (a receiver that drops repeated keys
    sees it once) or `park` the entity for a person to decide (`martops workflows retry` resends)."""
    enabled: bool = True
    """false: runs leave the workflow alone (no new entities, no steps); status still shows it."""

    @field_validator("stop_when", mode="before")
    @classmethod
    def _one_or_many(cls, v: object) -> object:
        return [v] if isinstance(v, str) else v

    @model_validator(mode="after")
    def _some_steps(self) -> "Workflow":
        if not self.steps:
            raise ValueError("steps is empty: give at least one step, got none")
        return self


class Webhook(_Strict):
    """An HTTP endpoint workflow steps POST JSON to. Secrets (a URL with a token in it, an
    Authorization header) come from the environment, named here."""

    url: Optional[str] = None
    """http(s)://host[:port]/path, when it holds no secret."""
    url_env: Optional[str] = None
    """The NAME of the environment variable holding the URL (Slack's and Zapier's URLs are secrets)."""
    headers: dict[str, str] = {}
    """Headers sent as written (no secrets)."""
    secret_headers: dict[str, str] = {}
    """Header -> the NAME of the environment variable holding its value, e.g. {Authorization: CRM_TOKEN}."""
    timeout_seconds: float = Field(10.0, gt=0, le=300)

    @field_validator("url")
    @classmethod
    def _http(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and not_http_url(v):
            raise ValueError(f"must be an http(s) URL such as {EXAMPLE_URL} ({not_http_url(v)})")
        return v.strip() if v else v

    @field_validator("url_env")
    @classmethod
    def _env(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and not _ENV.fullmatch(v):
            raise ValueError("must be the NAME of an environment variable (letters, digits, _), not the URL")
        return v

    @field_validator("headers", "secret_headers")
    @classmethod
    def _header_names(cls, v: dict[str, str]) -> dict[str, str]:
        for name in v:
            if not _HEADER.fullmatch(name):
                raise ValueError(f"{name!r} is not an HTTP header name")
            if name.lower() in RESERVED_HEADERS:
                raise ValueError(f"{name}: martops sets this header itself")
        return v

    @field_validator("secret_headers")
    @classmethod
    def _env_names(cls, v: dict[str, str]) -> dict[str, str]:
        for name, env in v.items():
            if not _ENV.fullmatch(env):
                raise ValueError(f"{name}: give the NAME of the environment variable holding the value, not the value")
        return v

    @model_validator(mode="after")
    def _one_url(self) -> "Webhook":
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give url or url_env (the NAME of an environment variable holding the URL), one of them")
        return self


EXAMPLE_URL = "https://hooks.zapier.com/hooks/catch/1/abc/"


def not_http_url(text: str) -> str | None:
    """What keeps `text` from being an http(s) URL a webhook can be posted to (no host, a port
    that is no port, a space), or None. Said without the URL: from `url_env` it is a secret."""
    text = text.strip()
    try:
        parts = urllib.parse.urlsplit(text)
        port = parts.port
    except ValueError as exc:  # an unclosed [IPv6], a port that is no number or out of range
        return f"it does not parse: {exc}"
    if "://" not in text:
        return "it does not start with http:// or https://"
    if parts.scheme not in ("http", "https"):
        return f"the scheme is {parts.scheme}://, not http:// or https://"
    if not parts.hostname:
        return "it names no host"
    if port == 0 or any(c.isspace() for c in text):
        return "the port is 0" if port == 0 else "it holds a space"
    return None


Workflows = dict[str, Workflow]
"""The `workflows:` section: workflow name -> workflow."""
Webhooks = dict[str, Webhook]
"""The `webhooks:` section: endpoint name -> endpoint."""


def check_references(workflows: Workflows, webhooks: Webhooks, has_smtp: bool) -> None:
    """What one model cannot check alone: names, branch targets and conditions a workflow refers
    to, the endpoint of each webhook step, and a mail server (`smtp:`) for e-mail steps. ValueError whose message starts with the full key (`workflows.X.steps.Y.branch.then`)."""
    for name, wf in workflows.items():
        top = f"workflows.{name}"
        if not _NAME.fullmatch(name):
            raise ValueError(f"{top}: a workflow name is letters, digits, '_' and '-' (not first), got {name!r}")
        names = list(wf.steps)
        for kind, given in (("steps", names), ("conditions", list(wf.conditions))):
            for n in given:
                if not _NAME.fullmatch(n):
                    raise ValueError(f"{top}.{kind}.{n}: a name is letters, digits, '_' and '-' (not first), got {n!r}")
                if kind == "steps" and n in RESERVED_STEPS:
                    raise ValueError(f"{top}.steps.{n}: next and stop are branch targets; name the step "
                                     f"otherwise, got {n!r}")
        for text in wf.stop_when:
            _known(wf, parse_condition(text)[1], f"{top}.stop_when")
        for i, step_name in enumerate(names):
            step, where = wf.steps[step_name], f"{top}.steps.{step_name}"
            if step.branch is not None:
                _known(wf, parse_condition(step.branch.if_)[1], f"{where}.branch.if")
                for field, target in (("then", step.branch.then), ("else", step.branch.else_)):
                    if target in RESERVED_STEPS:
                        continue
                    if target not in wf.steps:
                        raise ValueError(f"{where}.branch.{field}: must be a step of this workflow ({', '.join(names)}), "
                                         f"next or stop, got {target!r}")
                    if names.index(target) <= i:
                        raise ValueError(f"{where}.branch.{field}: a branch goes forward only (no loops), got "
                                         f"{target!r}, which comes before it")
            if step.webhook is not None and step.webhook.endpoint not in webhooks:
                known = ", ".join(webhooks) or "none is declared"
                raise ValueError(f"{where}.webhook.endpoint: must name an entry of webhooks: ({known}), got "
                                 f"{step.webhook.endpoint!r}")
            if step.email is not None and not has_smtp:
                raise ValueError(f"{where}: an email step needs the mail server: add an smtp: section (host, port, "
                                 "tls, from), got none")


def _known(wf: Workflow, condition: str, where: str) -> None:
    if condition not in wf.conditions:
        known = ", ".join(wf.conditions) or "none is declared"
        raise ValueError(f"{where}: must name a condition of this workflow ({known}), got {condition!r}")
