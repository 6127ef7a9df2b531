"""The registry: every domain, in data-flow order. Adding a domain is one line here (no import magic).

The CLI, `martops run`, the scheduler, the orchestrator adapters, `check` and `status` read the
domains from here; lower layers (engine, sources, checks, ops, reports) never import a domain.
"""

from __future__ import annotations

import dataclasses
import functools

from martops.attribution.domain import DOMAIN as ATTRIBUTION
from martops.campaigns.domain import DOMAIN as KPIS
from martops import runner
from martops.checks.catalog import Catalog, check_declared
from martops.config import ProjectConfig
from martops.crm.domain import DOMAIN as CRM
from martops.ingest.domain import DOMAIN as FX
from martops.loyalty.domain import DOMAIN as LOYALTY
from martops.usage.domain import DOMAIN as USAGE
from martops.leads.domain import DOMAIN as LEADS
from martops.workflows.domain import DOMAIN as WORKFLOWS
from martops.domain import Domain, StepContext
from martops.errors import ConfigError
from martops.graph import Graph
from martops.reports import step as report_step

DATA_DOMAINS: tuple[Domain, ...] = (ATTRIBUTION, FX, KPIS, CRM, LOYALTY, USAGE, LEADS)
REPORT = report_step.domain([d.report for d in DATA_DOMAINS if d.report is not None],
                            catalog=lambda: catalog(), sources=lambda: status_sources())
"""`report.weekly`: reads what the domains' report sections read, so it runs after them (last)."""
DOMAINS: tuple[Domain, ...] = (*DATA_DOMAINS, WORKFLOWS, REPORT)


@functools.cache
def graph() -> Graph:
    return Graph.of(DOMAINS)


def domain(name: str) -> Domain:
    for d in DOMAINS:
        if d.name == name:
            return d
    raise ConfigError(f"unknown domain {name!r}; domains: {', '.join(d.name for d in DOMAINS)}")


@functools.cache
def catalog() -> Catalog:
    """Built-in checks of every domain and every table martops writes (for `checks:` typos)."""
    builtins = {t: fn for d in DOMAINS for t, fn in d.checks.items()}
    tables = {t.name for d in DOMAINS for t in d.tables} | set(builtins)
    return Catalog(builtins, frozenset(tables))


def configured(cfg: ProjectConfig) -> list[Domain]:
    """The domains whose delivery martops.yml declares (`sources.<section>.path`), and those fed by
    an API that it asks to run (`ingest.fx.in_project_run`): what `martops run` with no selector runs."""
    return [d for d in DOMAINS if (d.source_path is not None and d.source_path(cfg) is not None)
            or (d.in_project_run is not None and d.in_project_run(cfg))]


def status_sources() -> list[tuple[dict[str, tuple[str, ...]], str]]:
    """(staging table -> its quarantine table names, the load step) per domain, for `martops status`."""
    return [(dict(d.staging_sources), d.load_step) for d in DOMAINS if d.load_step]


def report_sections() -> list:
    """Each domain's part of the weekly report (`Domain.report`), in data-flow order."""
    return [d.report for d in DOMAINS if d.report is not None]


def quarantine_tables() -> list[str]:
    """Every `ops.quarantine.table_name` a domain's load writes (`martops quarantine --table`)."""
    return sorted({name for d in DOMAINS for names in d.staging_sources.values() for name in names})


def preflight(ctx: StepContext, names: list[str]) -> None:
    """Each selected domain's checks that can fail before anything is written (`Domain.preflight`);
    `ctx.wh` may be None: they must not touch the warehouse."""
    for d in DOMAINS:
        if d.preflight and any(graph().step(n).domain == d.name for n in names):
            d.preflight(dataclasses.replace(ctx, params={**ctx.params, **ctx.domain_params.get(d.name, {})}),
                        list(names))


def run(ctx: StepContext, names: list[str], *, checked: bool = False, **kw) -> runner.RunReport:
    """`names` (in graph order) through the runner, after the domains' preflights (unless the
    caller, `checked`, ran them before opening the warehouse) and a check of martops.yml's `checks:` for a
    table that no domain writes and the warehouse lacks (a typo stops the run before any step)."""
    if not checked:
        preflight(ctx, names)
    check_declared(ctx.wh, ctx.project, catalog())
    return runner.run(DOMAINS, graph(), names, ctx, **kw)
