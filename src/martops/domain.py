"""What a domain declares once, so the CLI, `martops run`, the scheduler, orchestrators, `check` and
`status` all read the same step graph (dbt's manifest and Dagster's asset graph are the models).

A domain package (attribution, campaigns as `kpis`, crm) builds one `Domain` in its `domain.py`;
`martops.domains` lists them. Nothing here imports a domain: dependencies between steps are data,
derived by `martops.graph` from the tables each step reads (`inputs`) and writes (`outputs`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any, Callable, Mapping

from martops.config import ProjectConfig
from martops.engine import Warehouse
from martops.errors import ConfigError
from martops.reports.blocks import ReportSection
from martops.results import StepResult

SOURCE_PREFIX = "source:"
"""An input that is not a warehouse table but a domain's delivery (`source:kpis`)."""
FILE_PREFIX = "file:"
"""An output outside the warehouse (a CSV export, the challenge database written back)."""


@dataclasses.dataclass
class StepContext:
    """What one step run gets: the warehouse, the project, the range and the run's flags.

    `since`/`until` are inclusive dates (conversion dates for attribution); None for a step that
    takes no range. `params` holds command-line values by parameter name (`source`, `model`,
    `export`, ...); `state` is shared by the steps of one invocation (a load hands its delivery to
    the snapshot after it) and is empty when a step runs on its own.
    """

    wh: Warehouse
    project: ProjectConfig
    since: dt.date | None = None
    until: dt.date | None = None
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    domain_params: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    """Flags for one domain only (`--source kpis=exports/`); merged over `params` for its steps."""
    state: dict[str, Any] = dataclasses.field(default_factory=dict)
    progress: Callable[[str, int, int], None] | None = None
    """`progress(label, done, total)` for long work inside a step (API calls); the CLI draws bars."""

    def param(self, name: str, default: Any = None) -> Any:
        value = self.params.get(name)
        return default if value is None else value

    def delivery(self, setting: str, step: str) -> Path:
        """The folder a load step reads: `--source`, else `sources.<setting>.path` of martops.yml
        (relative to the working directory); neither is an error naming both."""
        folder = self.param("source") or getattr(self.project.sources, setting).path
        if folder is None:
            raise ConfigError(f"{step} has no delivery: pass --source FOLDER or set sources.{setting}.path in martops.yml")
        return Path(folder)


@dataclasses.dataclass(frozen=True)
class Parameter:
    """A flag a step reads from `StepContext.params` (also a `martops run` flag)."""

    name: str
    help: str
    default: str | None = None
    """The default as a person reads it (`ihc`, `sources.campaigns.path`)."""


@dataclasses.dataclass(frozen=True)
class Step:
    """One unit an orchestrator runs: `run(ctx) -> StepResult`, logged in ops.runs by the step.

    `inputs` are tables (`schema.table`) or `source:<domain>`; `outputs` are tables or
    `file:<what>`. A step runs after every step that writes one of its inputs.
    `skip_reason(ctx)` says why the step has nothing to do in this project (no export file set):
    in a whole-domain run the step is then shown as skipped with that reason; named alone, it is an
    error (no silent success).
    """

    name: str
    description: str
    run: Callable[[StepContext], StepResult]
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    parameters: tuple[Parameter, ...] = ()
    ranged: bool = False
    """Takes --since/--until (attribution's conversion dates); a delivery step loads all it is given."""
    skip_reason: Callable[[StepContext], str | None] | None = None
    in_project_run: bool = True
    """False: the step mails people (`report.send`), so it runs only when a selector names it (its
    name, a glob, its domain: `martops run report`, a schedule's `select`), never in a bare `martops
    run` nor as a step downstream of another (`kpis.load+`)."""

    @property
    def domain(self) -> str:
        return self.name.split(".", 1)[0]


@dataclasses.dataclass(frozen=True)
class TableSpec:
    """A warehouse table a domain writes: its grain (the columns one row is unique on), indexes."""

    name: str
    grain: tuple[str, ...] = ()
    description: str = ""
    indexes: tuple[tuple[str, ...], ...] = ()
    """Indexes besides the grain's (an engine that uses indexes gets one on the grain too)."""

    @property
    def all_indexes(self) -> tuple[tuple[str, ...], ...]:
        return ((self.grain,) if self.grain else ()) + tuple(i for i in self.indexes if i != self.grain)


BuiltInChecks = Callable[..., list]
"""`(table expr, table name, QualityConfig) -> list[Check]` (see martops.checks.catalog)."""


@dataclasses.dataclass(frozen=True)
class Domain:
    """Everything martops knows about one domain, in one place."""

    name: str
    """The selector and CLI group (`kpis`); step names start with it."""
    title: str
    steps: tuple[Step, ...]
    tables: tuple[TableSpec, ...] = ()
    checks: Mapping[str, BuiltInChecks] = dataclasses.field(default_factory=dict)
    """Built-in checks per table (`martops check` and each step's gate run them)."""
    staging_sources: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    """Staging table -> its `ops.quarantine.table_name`s, for the rows `martops status` shows."""
    load_step: str | None = None
    """The step whose last run `martops status` reports."""
    source_setting: str | None = None
    """The `sources.<section>` of martops.yml whose `path` is this domain's delivery."""
    source_path: Callable[[ProjectConfig], Path | None] | None = None
    in_project_run: Callable[[ProjectConfig], bool] | None = None
    """For a domain fed by an API (no delivery path): whether martops.yml asks a bare `martops run`
    to run it (fetching from the network is opted into, never implied)."""
    default_range: Callable[[StepContext], tuple[dt.date, dt.date] | None] | None = None
    """(first date not yet run, last date in the source): what a run with no --since/--until
    covers (nothing when the first is after the last); None when the source holds no dates."""
    preflight: Callable[[StepContext, list[str]], None] | None = None
    """Checks that can fail before any step of the run writes (flags naming files, API keys);
    gets the selected step names in run order and raises a MartopsError."""
    summary_notes: Callable[[StepResult], list[str]] | None = None
    """Lines `martops run` prints under its table for a result of this domain (warnings)."""
    build_hint: str = ""
    """What to run when a command of this domain finds no warehouse."""
    report: ReportSection | None = None
    """This domain's section of the weekly report (`martops report weekly`); None: no section."""

    def step(self, short: str) -> Step:
        return next(s for s in self.steps if s.name == f"{self.name}.{short}")


def require_input(ctx: StepContext, step: str, table: str) -> None:
    """ConfigError when a step's input table is missing, naming the step of the graph that writes
    it (crm.dedupe for the clusters, not always the load) and how to run both."""
    if not ctx.wh.exists(table):
        from martops import domains

        writer = domains.graph().writer(table) or f"{step.split('.', 1)[0]}.load"
        raise ConfigError(f"{step}: {table} does not exist yet; run {writer} first (martops run +{step} "
                          "--source FOLDER)")
