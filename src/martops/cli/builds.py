"""What every domain's `build` and `cleaning` commands print: the steps, the cleaning log, the
checks that did not pass. One place, so `kpis build` and `crm build` read the same."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from martops.cli.common import open_warehouse
from martops.cli.platform import run_cli
from martops.cli.render import console, fitted_table
from martops.ops.cleaning_log import last_run, of_run


def cleaning_table(rows: list[dict], title: str) -> Table:
    text = [[escape(r["file"]), escape(r["rule"]), f"{r['rows']:,}", escape((r.get("example") or "")[:400])] for r in rows]
    table, _ = fitted_table(title, ["file", "rule", "rows", "detail"], text, keep=1, right={"rows"},
                            flex={"rule", "detail"}, priority=["rows", "rule", "detail"])
    return table


def run_build(config: Optional[Path], warehouse: Optional[str], domain: str, source: Path,
              file_order: tuple[str, ...], footer: str) -> None:
    """`martops run <domain> --source <source>`, then what cleaning did (also when a step failed:
    the cleaning log and the checks say why)."""
    def after(report, wh) -> None:
        rows = of_run(wh, report.run_id, file_order)
        if rows:
            console.print(cleaning_table(rows, "What cleaning did (ops.cleaning_log)"))
        if report.ok:  # the footer names the tables built: not after a failure
            console.print(footer)

    run_cli([domain], config=config, warehouse=warehouse, source=[f"{domain}={source}"],
            title=f"{domain} build", after=after)


def print_cleaning(config: Optional[Path], warehouse: Optional[str], domain: str, run: Optional[str],
                   file_order: tuple[str, ...], empty_hint: str) -> None:
    _, wh = open_warehouse(config, warehouse, domain=domain, read_only=True)
    given = run
    with wh:
        run = run or last_run(wh, domain)
        rows = of_run(wh, run, file_order) if run else []
        rows = [r for r in rows if (r.get("domain") or "kpis") == domain]
    if not rows and given:  # a run id that is not one of this domain's builds: a typo, not "nothing yet"
        from martops.errors import ConfigError

        raise ConfigError(f"--run {given!r}: no {domain} build has that run id; `martops runs --step {domain}` lists them")
    if not rows:
        console.print(empty_hint)
        raise typer.Exit(0)
    console.print(cleaning_table(rows, f"What cleaning did (run {run})"))
