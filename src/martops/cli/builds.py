"""What every domain's `build` and `cleaning` commands print: the steps, the cleaning log, the
checks that did not pass. One place, so `kpis build` and `crm build` read the same."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import typer
from rich.markup import escape
from rich.table import Table

from martops.checks.store import results_of_run
from martops.cli.common import open_warehouse, writable_warehouse
from martops.config import load_config
from martops.cli.render import check_table, console, fitted_table, step_progress, summary_table
from martops.ops import runlog
from martops.ops.cleaning_log import last_run, of_run


def cleaning_table(rows: list[dict], title: str) -> Table:
    text = [[escape(r["file"]), escape(r["rule"]), f"{r['rows']:,}", escape((r.get("example") or "")[:400])] for r in rows]
    table, _ = fitted_table(title, ["file", "rule", "rows", "detail"], text, keep=1, right={"rows"},
                            flex={"rule", "detail"}, priority=["rows", "rule", "detail"])
    return table


def run_build(config: Optional[Path], warehouse: Optional[Path], domain: str, steps: tuple[str, ...],
              build: Callable, source: Path, file_order: tuple[str, ...], footer: str) -> None:
    """Run `build(wh, source, cfg, on_step=...)` under a step bar, then print what it did (also when
    a step failed: the cleaning log and the checks say why)."""
    cfg = load_config(config)
    with writable_warehouse(cfg, warehouse) as wh, runlog.invocation() as run_id, step_progress(len(steps), domain) as (progress, task):
        def on_step(name: str) -> None:
            progress.update(task, description=name, completed=steps.index(name))

        try:
            results, _ = build(wh, source, cfg, on_step=on_step)
        finally:
            progress.update(task, completed=len(steps))
            flagged = [r for r in results_of_run(wh, run_id) if r["status"] != "pass"]
            log_rows = of_run(wh, run_id, file_order)
        console.print(summary_table(results, title=f"{domain} build (run {run_id})"))
        console.print(cleaning_table(log_rows, "What cleaning did (ops.cleaning_log)"))
        if flagged:
            console.print(check_table(flagged, title="Checks that did not pass"))
        console.print(footer)


def print_cleaning(config: Optional[Path], warehouse: Optional[Path], domain: str, run: Optional[str],
                   file_order: tuple[str, ...], empty_hint: str) -> None:
    _, wh = open_warehouse(config, warehouse, domain=domain, read_only=True)
    with wh:
        run = run or last_run(wh, domain)
        rows = of_run(wh, run, file_order) if run else []
    if not rows:
        console.print(empty_hint)
        raise typer.Exit(0)
    console.print(cleaning_table(rows, f"What cleaning did (run {run})"))
