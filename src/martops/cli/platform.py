"""`martops steps` and `martops run`, and the one function every step command calls.

Every step is also its own command (`martops kpis load`, `martops attribution journeys`, ...) with
the same flags as `run`: each is `run` with the selection fixed to that step.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Callable, Optional

import typer
from rich.markup import escape

from martops import domains
from martops.checks.store import results_of_run
from martops.cli.common import CONFIG, FORCE, WAREHOUSE, connect_warehouse, parse_range, refuse_overwrite, writable_warehouse
from martops.cli.render import check_table, console, fitted_table, left_out_note, step_progress
from martops.config import ProjectConfig, load_config
from martops.domain import SOURCE_PREFIX, StepContext
from martops.errors import ConfigError, StepError
from martops.graph import Graph
from martops.runner import FAILED, SKIPPED, RunReport

SELECTORS = typer.Argument(None, help="Steps to run: a domain (kpis), a step (kpis.load), a table "
                           "(marts.channel_reporting), a glob (crm.*), with + for upstream/downstream "
                           "(+marts.channel_reporting, kpis.load+). None: every domain martops.yml has a source for.")
EXCLUDE = typer.Option(None, "--exclude", "-x", help="Leave these out (same grammar as the selectors); repeatable.")
SINCE = typer.Option(None, "--since", help="First date of the range (YYYY-MM-DD), inclusive; default: the first "
                     "date not yet run (attribution: conversion dates).")
UNTIL = typer.Option(None, "--until", help="Last date (YYYY-MM-DD), inclusive; default: the source's last date.")
SOURCE = typer.Option(None, "--source", "-s", help="A delivery: PATH when one domain with a source is selected, "
                      "else DOMAIN=PATH (kpis=exports/, crm=extract/, attribution=challenge.db); repeatable. "
                      "Default: martops.yml's sources.<domain>.path.")
DB = typer.Option(None, "--db", help="The challenge SQLite database (same as --source attribution=FILE).")
MODEL = typer.Option(None, "--model", "-m", help="Attribution model (default: attribution.model, ihc).")
EXPORT = typer.Option(None, "--export", "-o", help="attribution.export: the CSV file to write.")
WRITE_BACK = typer.Option(None, "--write-back/--no-write-back", help="Write attribution results into the challenge database.")
DDL = typer.Option(None, "--ddl", help="DDL file for the write-back's output tables (the challenge's own works).")
LOOKBACK = typer.Option(None, "--lookback-days", help="Only sessions at most N days before a conversion count.")
CONV_TYPE = typer.Option(None, "--conv-type-id", help="ihc_api: the account's conversion type id (or ihc_api.conv_type_id).")
REFRESH = typer.Option(False, "--refresh", help="ihc_api: send every journey again, even those already answered.")
AS_OF = typer.Option(None, "--as-of", help="loyalty.fill: the date (YYYY-MM-DD) the customer fills are computed as "
                     "of (default: loyalty.as_of, else the last transaction day); usage.marts: the date the usage "
                     "marts are as of (default: usage.as_of, else the last event's day).")
ALLOW_PARTIAL = typer.Option(False, "--allow-partial", help="ihc_api: succeed even if the API failed some journeys (HTTP 206).")

DELIVERY_PARAM = {"attribution": "db", "kpis": "source", "crm": "source", "loyalty": "source", "usage": "source", "leads": "source"}
"""The parameter a domain's load step reads its delivery from."""


def _sources(values: list[str], db: Optional[Path], names: list[str]) -> dict[str, dict]:
    """--source values as per-domain parameters; a bare PATH needs exactly one delivery domain."""
    graph = domains.graph()
    fed = list(dict.fromkeys(graph.step(n).domain for n in names
                             if any(i.startswith(SOURCE_PREFIX) for i in graph.step(n).inputs)))
    selected = {graph.step(n).domain for n in names}  # a domain's delivery flag is accepted by all its steps
    out: dict[str, dict] = {}
    for value in values:
        domain, sep, path = value.partition("=")
        if not sep:
            if len(fed) != 1:
                raise ConfigError(f"--source {value}: say which domain it feeds, e.g. --source kpis={value} "
                                  f"(the selection loads {', '.join(fed) or 'no delivery'})")
            domain, path = fed[0], value
        if domain not in DELIVERY_PARAM:
            raise ConfigError(f"--source {value}: {domain!r} is not a domain with a delivery; "
                              f"use one of {', '.join(DELIVERY_PARAM)}")
        if not path:
            raise ConfigError(f"--source {value}: give a path after '='")
        if domain not in selected:
            raise ConfigError(f"--source {value}: no selected step is of {domain} ({', '.join(names)})")
        if domain in out:
            raise ConfigError(f"--source {value}: {domain} is given a delivery twice; give one")
        out.setdefault(domain, {})[DELIVERY_PARAM[domain]] = path
    if db is not None:
        if "attribution" in out:
            raise ConfigError("--db and --source attribution=... both name the attribution delivery; give one")
        if "attribution" not in selected:
            raise ConfigError(f"--db {db}: no selected step is of attribution ({', '.join(names)})")
        out["attribution"] = {"db": str(db)}
    return out


def refuse_unused_flags(names: list[str], params: dict, ranged: bool) -> None:
    """A flag no selected step reads is an error, not a quiet no-op (`kpis load --model x`,
    `run attribution.report --export f.csv`, `--since` on a selection that loads whole deliveries)."""
    graph = domains.graph()
    steps = [graph.step(n) for n in names]
    if ranged and not any(s.ranged for s in steps):
        raise ConfigError(f"--since/--until: none of the selected steps ({', '.join(names)}) takes a range "
                          "(kpis and crm load their whole delivery); leave them out")
    for key, value in params.items():
        if value is None or any(key == p.name for s in steps for p in s.parameters):
            continue
        takers = [s.name for s in graph.steps if any(key == p.name for p in s.parameters)]
        raise ConfigError(f"--{key.replace('_', '-')}: no selected step takes it ({', '.join(names)}); "
                          f"it is read by {', '.join(takers) or 'no step'}")


def selection(cfg: ProjectConfig, selectors: list[str], exclude: list[str], sources: list[str],
              db: Optional[Path]) -> list[str]:
    """The step names to run; no selector means the domains whose delivery is declared (without
    the steps that deliver to people, `Step.in_project_run`)."""
    graph = domains.graph()
    if not selectors:
        chosen = [d.name for d in domains.configured(cfg)]
        given = {v.partition("=")[0] for v in sources if "=" in v} | ({"attribution"} if db else set())
        chosen += [d for d in DELIVERY_PARAM if d in given and d not in chosen]
        if not chosen:
            raise ConfigError("nothing to run: martops.yml declares no source (sources.attribution.path, "
                              "sources.campaigns.path, sources.crm.path, sources.loyalty.path, sources.usage.path, sources.leads.path) and no API pipeline to run "
                              "(ingest.fx.in_project_run); name a selection, e.g. "
                              "`martops run kpis --source exports/` (see `martops steps`)")
        # a step that mails people (report.send) runs when asked for, never as part of the pipeline
        return [n for n in graph.select(chosen, exclude) if graph.step(n).in_project_run]
    return graph.select(selectors, exclude)


def run_cli(selectors: list[str], *, strict: bool = False, config: Optional[Path] = None,
            warehouse: Optional[str] = None, since: Optional[str] = None, until: Optional[str] = None,
            exclude: Optional[list[str]] = None, source: Optional[list[str]] = None, db: Optional[Path] = None,
            params: Optional[dict] = None, title: str = "run",
            after: Optional[Callable[[RunReport, object], None]] = None, force: bool = False) -> RunReport:
    """Resolve the selection, check every flag, then open (or create) the warehouse and run; print
    one summary. A failed step raises StepError after the summary (exit 1). A step named by its
    exact name (or every step, with `strict`) that has nothing to do is an error, not a skip."""
    cfg = load_config(config)
    s, u = parse_range(since, until)
    export = (params or {}).get("export")
    refuse_overwrite(force, ("--export", Path(export) if export else None))
    names = selection(cfg, selectors, list(exclude or []), list(source or []), db)
    per_domain = _sources(list(source or []), db, names)
    common = {k: v for k, v in (params or {}).items() if v is not None}
    refuse_unused_flags(names, common, ranged=since is not None or until is not None)
    # the export step on its own writes the rows of --since..--until; in a chain, the model's whole
    # report (every range attributed so far), so range A then B exports what A and B together do
    common["export_range"] = True if names == ["attribution.export"] and (since or until) else None
    # flags first (a wrong --model is said even when the delivery is missing too), then the files
    domains.preflight(StepContext(None, cfg, s, u, params=common, domain_params=per_domain), names)  # type: ignore[arg-type]
    check_deliveries(cfg, names, per_domain)
    graph = domains.graph()
    loads = any(i.startswith(SOURCE_PREFIX) for n in names for i in graph.step(n).inputs)
    first = domains.domain(graph.step(names[0]).domain)
    # only a selection that loads a delivery may create the warehouse: a typo elsewhere creates nothing
    # a load that fails before it loaded anything removes the warehouse it created (writable_warehouse)
    with (writable_warehouse(cfg, warehouse) if loads else connect_warehouse(cfg, warehouse, domain=first.name)) as wh:
        ctx = StepContext(wh, cfg, s, u, params=common, domain_params=per_domain)
        with step_progress(len(names), title) as (progress, task):
            bars: dict[str, object] = {}

            def api_progress(label: str, done: int, total: int) -> None:
                if label not in bars:
                    bars[label] = progress.add_task(label, total=total)
                progress.update(bars[label], completed=done, total=total)

            ctx.progress = api_progress
            named = names if strict else [n for n in names if n in selectors]  # a step named on its own
            report = domains.run(ctx, names, strict=named, checked=True,
                                 on_start=lambda step: progress.update(task, description=step.name),
                                 on_end=lambda _: progress.advance(task))
        print_report(report, title)
        flagged = [r for r in results_of_run(wh, report.run_id) if r["status"] != "pass"]
        if flagged:
            console.print(check_table(flagged, title=f"Checks that did not pass (run {report.run_id})"))
        if after:
            after(report, wh)
        if not report.ok:  # raised inside: a warehouse this run created and left empty is removed
            failed = report.failed
            if len(names) == 1:
                raise StepError(str(failed[0].reason))
            skipped = [o.step for o in report.outcomes if o.status == SKIPPED and (o.reason or "").startswith("not run")]
            raise StepError(f"{failed[0].step} failed: {failed[0].reason}"
                            + (f" (and {len(failed) - 1} more failed step(s))" if len(failed) > 1 else "")
                            + (f"; not run: {', '.join(skipped)}" if skipped else ""))
    return report


def check_deliveries(cfg: ProjectConfig, names: list[str], per_domain: dict[str, dict]) -> None:
    """Before the warehouse is opened (so a bad command line creates nothing): every selected step
    that reads a delivery has one, and it exists."""
    graph = domains.graph()
    for name in names:
        step = graph.step(name)
        if not any(i.startswith(SOURCE_PREFIX) for i in step.inputs):
            continue
        d = domains.domain(step.domain)
        if d.source_setting is None:  # an API, not a delivery: its preflight checks its settings
            continue
        given = per_domain.get(d.name, {}).get(DELIVERY_PARAM.get(d.name, ""))
        path = Path(given) if given else (d.source_path(cfg) if d.source_path else None)
        flag = "--db FILE" if d.name == "attribution" else "--source FOLDER"
        if path is None:
            raise ConfigError(f"{name} has no delivery: pass {flag} or set sources.{d.source_setting}.path in martops.yml")
        if not path.exists():
            where = f"--source {d.name}=" if given else f"martops.yml sources.{d.source_setting}.path: "
            raise ConfigError(f"{name}: {where}{path} does not exist")


def print_report(report: RunReport, title: str) -> None:
    style = {"success": "green", "failed": "bold red", "skipped": "yellow"}
    notes: list[str] = []
    rows = []
    for o in report.outcomes:
        r = o.result
        span = f"{r.since}..{r.until}" if r and r.since else ""
        details = ", ".join(f"{k}={v}" for k, v in r.details.items()) if r else (o.reason or "")
        rows.append([o.step, f"[{style[o.status]}]{o.status}[/]", span, f"{r.rows_in:,}" if r else "",
                     f"{r.rows_out:,}" if r else "", f"{o.seconds:.2f}" if r or o.status == FAILED else "",
                     escape(details)])
        if r:
            d = domains.domain(o.step.split(".", 1)[0])
            notes += d.summary_notes(r) if d.summary_notes else []
    table, _ = fitted_table(f"{title} (run {report.run_id})",
                            ["step", "status", "range", "rows in", "rows out", "seconds", "details"], rows, keep=2,
                            right={"rows in", "rows out", "seconds"}, flex={"details"},
                            priority=["rows out", "details", "rows in", "range", "seconds"])
    console.print(table)
    for line in dict.fromkeys(notes):
        console.print(f"[yellow]note:[/] {line}")

def run(
    selectors: Optional[list[str]] = SELECTORS, exclude: Optional[list[str]] = EXCLUDE,
    since: Optional[str] = SINCE, until: Optional[str] = UNTIL, source: Optional[list[str]] = SOURCE,
    db: Optional[Path] = DB, model: Optional[str] = MODEL, export: Optional[Path] = EXPORT,
    write_back: Optional[bool] = WRITE_BACK, ddl: Optional[Path] = DDL, lookback_days: Optional[int] = LOOKBACK,
    conv_type_id: Optional[str] = CONV_TYPE, refresh: bool = REFRESH, allow_partial: bool = ALLOW_PARTIAL,
    as_of: Optional[str] = AS_OF, warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG, force: bool = FORCE,
) -> None:
    """Run a selection of the step graph in dependency order (no selector: the whole project).

    A failed step stops the steps downstream of it (named in the summary) and exits 1; other
    branches run on. Re-running a selection for the same range gives the same warehouse.

    Example:

      martops run                                  # every domain martops.yml has a source for

      martops run kpis --source exports/           # one domain

      martops run +marts.channel_reporting --db challenge.db --since 2023-09-01 --until 2023-09-07

      martops run kpis.load+ crm --exclude crm.dedupe+
    """
    run_cli(list(selectors or []), config=config, warehouse=warehouse, since=since, until=until, exclude=exclude,
            source=source, db=db, params=step_params(model, export, write_back, ddl, lookback_days, conv_type_id,
                                                     refresh, allow_partial, as_of), force=force)


def step_params(model, export, write_back, ddl, lookback_days, conv_type_id, refresh, allow_partial,
                as_of=None) -> dict:
    return {"as_of": _date_flag("--as-of", as_of),"model": model, "export": str(export) if export else None, "write_back": write_back,
            "ddl": str(ddl) if ddl else None, "lookback_days": lookback_days, "conv_type_id": conv_type_id,
            "refresh": refresh or None, "allow_partial": allow_partial or None}


def _date_flag(flag: str, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(f"{flag} {value!r} is not a date; expected YYYY-MM-DD, e.g. 2013-12-30") from None


def step_command(name: str) -> Callable[..., None]:
    """A command for one step with the same flags as `run` (the selection fixed to the step)."""
    step = domains.graph().step(name)

    def command(
        since: Optional[str] = SINCE, until: Optional[str] = UNTIL, source: Optional[list[str]] = SOURCE,
        db: Optional[Path] = DB, model: Optional[str] = MODEL, export: Optional[Path] = EXPORT,
        write_back: Optional[bool] = WRITE_BACK, ddl: Optional[Path] = DDL, lookback_days: Optional[int] = LOOKBACK,
        conv_type_id: Optional[str] = CONV_TYPE, refresh: bool = REFRESH, allow_partial: bool = ALLOW_PARTIAL,
        as_of: Optional[str] = AS_OF, warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG, force: bool = FORCE,
    ) -> None:
        params = step_params(model, export, write_back, ddl, lookback_days, conv_type_id, refresh, allow_partial,
                             as_of)
        if name == "attribution.write-back" and write_back is None:
            params["write_back"] = True  # naming the step asks for it
        run_cli([name], strict=True, config=config, warehouse=warehouse, since=since, until=until, source=source,
                db=db, params=params, title=name, force=force)

    command.__doc__ = (f"{step.description}.\n\nThe step {name} of the graph, with the same flags as "
                       f"`martops run` (`martops steps` shows its inputs and outputs).\n\nExample:\n\n"
                       f"  martops run {name}    # the same as this command")
    command.__name__ = name.replace(".", "_").replace("-", "_")
    return command


# -- martops steps ---------------------------------------------------------------------------
def graph_json(graph: Graph, names: list[str]) -> dict:
    return {"steps": [{
        "name": n, "domain": graph.step(n).domain, "description": graph.step(n).description,
        "inputs": list(graph.step(n).inputs), "outputs": list(graph.step(n).outputs),
        "upstream": [u for u in graph.upstream[n] if u in names], "ranged": graph.step(n).ranged,
        "parameters": {p.name: {"help": p.help, "default": p.default} for p in graph.step(n).parameters},
    } for n in names]}


def graph_dot(graph: Graph, names: list[str]) -> str:
    lines = ["digraph martops {", "  rankdir=LR;", "  node [shape=box];"]
    for d in dict.fromkeys(graph.step(n).domain for n in names):
        lines.append(f'  subgraph "cluster_{d}" {{ label="{d}";')
        lines += [f'    "{n}";' for n in names if graph.step(n).domain == d]
        lines.append("  }")
    lines += [f'  "{u}" -> "{n}";' for n in names for u in graph.upstream[n] if u in names]
    lines.append("}")
    return "\n".join(lines)


def steps(
    selectors: Optional[list[str]] = typer.Argument(None, help="Only these (same selectors as `martops run`)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json (for orchestrators) or dot (Graphviz)."),
) -> None:
    """List every step with its inputs, outputs and parameters, in run order.

    Example:

      martops steps

      martops steps +marts.channel_reporting --format dot | dot -Tsvg > graph.svg
    """
    if fmt not in ("table", "json", "dot"):
        raise ConfigError(f"--format {fmt!r}: choose table, json or dot")
    graph = domains.graph()
    names = graph.select(list(selectors or []))
    if fmt == "json":
        typer.echo(json.dumps(graph_json(graph, names), indent=2))
        return
    if fmt == "dot":
        typer.echo(graph_dot(graph, names))
        return
    rows = []
    for n in names:
        s = graph.step(n)
        params = [p.name for p in s.parameters] + (["since", "until"] if s.ranged else [])
        rows.append([escape(x) for x in (n, "\n".join(graph.upstream[n]) or "-", "\n".join(s.inputs) or "-",
                                         "\n".join(s.outputs), "\n".join(params) or "-")])
    table, left_out = fitted_table("Steps (run order)", ["step", "after", "reads", "writes", "parameters"], rows,
                                   lines=True, priority=["writes", "reads", "parameters", "after"])
    console.print(table)
    left_out_note(left_out, " (--format json has them all)")
