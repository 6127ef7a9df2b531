"""`martops check`, `runs`, `status`, `quarantine`: is the data right, what ran, what was rejected."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Optional

import typer

from martops import domains
from martops.checks import catalog
from martops.checks.core import run_checks
from martops.checks.store import record
from martops.cli.common import CONFIG, WAREHOUSE, open_warehouse
from martops.config import load_config
from martops.cli.render import check_table, console, fitted_table, left_out_note
from martops.errors import ConfigError
from martops.ops import runlog, status as status_mod
from rich.markup import escape


def check(
    select: Optional[list[str]] = typer.Option(None, "--select", "-s",
                                               help="Glob on table, check or table:check, e.g. 'staging.*' or "
                                               "'unique*'; repeatable (a check matching any runs)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, or json (for orchestrators: one object on stdout)."),
    list_tables: bool = typer.Option(False, "--list", help="Only list the tables that have checks; open no warehouse."),
    warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG,
) -> None:
    """Run the data checks (built-in and martops.yml's) on the warehouse; exit 1 if an error-severity check fails.

    Results are kept in ops.check_results with a sample of failing rows and the query to rerun.
    `--format json` prints {"run_id", "results": [{"status", "table", "check", "failing_count",
    "blocking", "message"}], "counts"}; `--list` prints the tables that have checks ({"tables": [...]} as json).

    Example:

      martops check --select 'staging.*'
    """
    if fmt not in ("table", "json"):
        raise ConfigError(f"--format {fmt!r}: choose table or json")
    if list_tables:
        names = catalog.tables(load_config(config), domains.catalog())
        typer.echo(json.dumps({"tables": names}) if fmt == "json" else "\n".join(names))
        return
    cfg, wh = open_warehouse(config, warehouse)  # writes ops.check_results and ops.runs: read-write, never created
    with wh, runlog.invocation() as run_id:
        known = domains.catalog()
        catalog.check_declared(wh, cfg, known)
        every = []
        for name in catalog.tables(cfg, known):
            if wh.exists(name):
                every += catalog.for_table(wh, cfg, name, known.builtins)
        patterns = list(select or [])
        checks = [c for c in every if not patterns or any(catalog.select([c], p) for p in patterns)]
        for pattern in patterns:
            if catalog.select(every, pattern):
                continue
            firsts = list({c.table: f"{c.table}:{c.name}" for c in reversed(every)}.values())[::-1]  # one per table
            names = (firsts + [f"{c.table}:{c.name}" for c in every if f"{c.table}:{c.name}" not in firsts])[:4]
            here = (f"the {len(every):,} checks here include {', '.join(map(repr, names))}" if names else
                    f"no table with checks exists here yet ({', '.join(catalog.tables(cfg, known))})")
            by_lower = {n.lower(): n for c in every for n in (c.table, c.name, f"{c.table}:{c.name}")}
            close = difflib.get_close_matches(pattern.lower(), list(by_lower), n=1, cutoff=0.6)
            raise ConfigError(f"--select {pattern!r} matches no check (a glob on the table, the check or "
                              f"table:check); {here}" + (f"; did you mean {by_lower[close[0]]}?" if close else ""))
        with runlog.logged(wh, "check", {"select": patterns[0] if len(patterns) == 1 else patterns or None}) as run:
            results = run_checks(wh, checks)
            record(wh, run_id, results)
            run.rows_in, run.rows_out = len(results), sum(r.blocking for r in results)
        if fmt == "json":
            typer.echo(json.dumps({"run_id": run_id, "results": [
                {"status": r.status, "table": r.table, "check": r.check, "failing_count": r.failing_count,
                 "blocking": r.blocking, "message": r.message} for r in results],
                "counts": {s: sum(r.status == s for r in results) for s in ("pass", "warn", "fail", "error")}}))
            if any(r.blocking for r in results):
                raise typer.Exit(1)
            return
        if not results:
            console.print(f"no checks matched{''.join(' --select ' + p for p in patterns)} (tables with checks: "
                          f"{', '.join(catalog.tables(cfg, known))}; only existing tables are checked)")
            raise typer.Exit(0)
        rows = [{"status": r.status, "table_name": r.table, "check_name": r.check, "failing_count": r.failing_count,
                 "sample": r.sample, "message": r.message} for r in results]
        console.print(check_table(rows, title=f"Checks (run {run_id})"))
        counts = {s: sum(r.status == s for r in results) for s in ("pass", "warn", "fail", "error")}
        console.print(", ".join(f"{n} {s}" for s, n in counts.items()))
        failed = [r for r in results if r.blocking]
        for r in failed:
            console.print(f"[bold red]{r.status}:[/] {r}", soft_wrap=True, highlight=False)
    if failed:
        raise typer.Exit(1)


def runs(
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many runs to list, newest first."),
    step: Optional[str] = typer.Option(None, "--step", help="Only steps starting with this, e.g. attribution.ingest."),
    warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG,
) -> None:
    """List recent step runs from ops.runs: step, range, status, rows, duration and error.

    Example:

      martops runs --limit 10 --step attribution
    """
    cfg, wh = open_warehouse(config, warehouse, read_only=True)
    with wh:
        if step is not None:
            runlog.check_step_filter(step, [*domains.graph().names, "check", *runlog.steps(wh),
                                            *(f"schedule.{s.name}" for s in cfg.schedules)])
        rows = runlog.recent(wh, limit, step)
    if not rows:
        console.print(f"no runs of {step}* recorded yet" if step else "no runs recorded yet", highlight=False)
        return
    style = {"success": "green", "failed": "bold red", "abandoned": "yellow", "running": "cyan"}
    text = []
    for r in rows:
        secs = (r["ended_at"] - r["started_at"]).total_seconds() if r["ended_at"] else None
        text.append([r["step"], f"[{style.get(r['status'], '')}]{r['status']}[/]",
                     f"{r['since']}..{r['until']}" if r["since"] else "", r["started_at"].strftime("%Y-%m-%d %H:%M:%S"),
                     "" if r["rows_in"] is None else f"{r['rows_in']:,}",
                     "" if r["rows_out"] is None else f"{r['rows_out']:,}",
                     "" if secs is None else f"{secs:.2f}", escape(_first_line(r["error"])), r["run_id"]])
    table, left_out = fitted_table("Recent runs", ["step", "status", "range", "started", "rows in", "rows out",
                                                   "seconds", "error", "run id"], text, keep=2,
                                   right={"rows in", "rows out", "seconds"}, flex={"error"},
                                   priority=["started", "error", "rows out", "range", "rows in", "seconds", "run id"])
    console.print(table)
    left_out_note(left_out, " (every column: martops show ops.runs)")


def _first_line(error: str | None) -> str:
    """An error's first line (the rest, e.g. the kept quarantine reasons, is in ops.runs)."""
    lines = (error or "").splitlines()
    more = f" (+{len(lines) - 1} lines in ops.runs)" if len(lines) > 1 else ""
    return (lines[0][:300] + more) if lines else ""


def status(warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG) -> None:
    """Per source: rows, when it was last loaded, freshness (warn after 12 h, stale after 24 h), quarantined rows.

    Example:

      martops status --warehouse out/warehouse.duckdb
    """
    cfg, wh = open_warehouse(config, warehouse, read_only=True)
    with wh:
        rows = status_mod.source_status(wh, cfg, domains.status_sources())
    style = {"fresh": "green", "warn": "yellow", "stale": "bold red", "empty": "bold red", "missing": "dim"}
    text = []
    for st in rows:
        last = st.last_run
        span = f" ({last['since']}..{last['until']})" if last and last["since"] else ""
        last_txt = f"{last['status']} {last['started_at']:%Y-%m-%d %H:%M}{span}" if last else "never"
        text.append([st.table, f"[{style[st.freshness]}]{st.freshness}[/]", f"{st.rows:,}",
                     f"{st.loaded_at:%Y-%m-%d %H:%M:%S}" if st.loaded_at else "",
                     "" if st.age_hours is None else f"{st.age_hours:.1f}", f"{st.quarantined:,}", last_txt])
    table, left_out = fitted_table(f"Sources in {wh.location}", ["table", "freshness", "rows", "last loaded",
                                                                 "age (h)", "quarantined", "last ingest"], text,
                                   keep=2, right={"rows", "age (h)", "quarantined"}, flex={"last ingest"},
                                   priority=["rows", "age (h)", "quarantined", "last ingest", "last loaded"])
    console.print(table)
    left_out_note(left_out)


def quarantine(
    table: Optional[str] = typer.Option(None, "--table", "-t", help="Only rows of this source table, e.g. session_sources."),
    limit: int = typer.Option(50, "--limit", "-n", min=1, help="How many rows to show."),
    warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG,
) -> None:
    """Show quarantined source rows: table, row number, column, raw value and reason.

    Example:

      martops quarantine --table session_sources --limit 20
    """
    _, wh = open_warehouse(config, warehouse, read_only=True)
    with wh:
        rows = status_mod.quarantined_rows(wh, table, limit, known=domains.quarantine_tables())
    if not rows:
        console.print("nothing quarantined")
        return
    text = [[r["table_name"], str(r["row_number"]), escape(r["row_key"] or ""), escape(r["column_name"] or ""),
             escape(json.dumps(r["raw_value"])), escape(r["reason"]), escape(r["source"])] for r in rows]
    out, left_out = fitted_table("Quarantined rows (ops.quarantine)",
                                 ["table", "row", "key", "column", "raw value", "reason", "source"], text, keep=2,
                                 right={"row"}, flex={"reason", "source", "raw value"},
                                 priority=["reason", "column", "raw value", "key", "source"])
    console.print(out)
    left_out_note(left_out, " (every column: martops show ops.quarantine)")
