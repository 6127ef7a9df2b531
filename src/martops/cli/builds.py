"""What every domain's `build` and `cleaning` commands print: the steps, the cleaning log, the
checks that did not pass. One place, so `kpis build` and `crm build` read the same."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from martops.cli.common import open_warehouse
from martops.cli.platform import run_cli
from martops.cli.render import console
from martops.ops.cleaning_log import last_run, of_run


def cleaning_table(rows: list[dict], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("file", no_wrap=True)
    table.add_column("rule", ratio=2)
    table.add_column("rows", justify="right", no_wrap=True)
    table.add_column("detail", ratio=3)
    for r in rows:
        table.add_row(r["file"], r["rule"], f"{r['rows']:,}", (r.get("example") or "")[:400])
    return table


def run_build(config: Optional[Path], warehouse: Optional[Path], domain: str, source: Path,
              file_order: tuple[str, ...], footer: str) -> None:
    """`martops run <domain> --source <source>`, then what cleaning did (also when a step failed:
    the cleaning log and the checks say why)."""
    def after(report, wh) -> None:
        rows = of_run(wh, report.run_id, file_order)
        console.print(cleaning_table(rows, "What cleaning did (ops.cleaning_log)"))
        console.print(footer)

    run_cli([domain], config=config, warehouse=warehouse, source=[f"{domain}={source}"],
            title=f"{domain} build", after=after)


def print_cleaning(config: Optional[Path], warehouse: Optional[Path], domain: str, run: Optional[str],
                   file_order: tuple[str, ...], empty_hint: str) -> None:
    _, wh = open_warehouse(config, warehouse, domain=domain)
    with wh:
        run = run or last_run(wh, domain)
        rows = of_run(wh, run, file_order) if run else []
    if not rows:
        console.print(empty_hint)
        raise typer.Exit(0)
    console.print(cleaning_table(rows, f"What cleaning did (run {run})"))
