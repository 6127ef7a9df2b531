"""`martops loyalty ...`: build (load, fill, reporting for one delivery), the steps on their own,
and cleaning (what the build's rules did)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from martops.cli import platform
from martops.cli.builds import cleaning_table, print_cleaning
from martops.cli.common import CONFIG, WAREHOUSE
from martops.cli.platform import AS_OF, run_cli, step_params
from martops.cli.render import console
from martops.loyalty import tables as T
from martops.ops.cleaning_log import of_run

loyalty_app = typer.Typer(
    help="Loyalty programme (February Challenge): customer fills, points rule, reporting tables.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@loyalty_app.command()
def build(
    source: Path = typer.Option(..., "--source", "-s", help="Folder holding customers.csv and transactions.csv."),
    as_of: Optional[str] = AS_OF,
    warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG,
) -> None:
    """Load a loyalty delivery, fill the customer table as of a date, rebuild the reporting tables.

    Bad rows go to ops.quarantine with file, line, column and value; every rule's count goes to
    ops.cleaning_log and is printed. Re-running the same folder changes nothing; a delivery with
    new transactions refreshes the fills.

    Example:

      martops loyalty build --source ../shared/datasets/loyalty --as-of 2013-06-30
    """
    def after(report, wh) -> None:
        rows = of_run(wh, report.run_id, T.FILE_ORDER)
        if rows:
            console.print(cleaning_table(rows, "What cleaning did (ops.cleaning_log)"))
        if report.ok:
            console.print(escape(f"Tables: {T.CUSTOMERS} (the fills), {T.TRANSACTIONS}, "
                                 f"{', '.join(T.PERIODS.values())}, {T.CUSTOMER_MONTH}, {T.LIABILITY}. "
                                 "Quarantined rows: `martops quarantine --table loyalty_transactions`."))

    params = step_params(None, None, None, None, None, None, False, False, as_of)
    run_cli(["loyalty"], config=config, warehouse=warehouse, source=[f"loyalty={source}"], params=params,
            title="loyalty build", after=after)


for _name in ("load", "fill", "reporting"):
    loyalty_app.command(_name)(platform.step_command(f"loyalty.{_name}"))


@loyalty_app.command()
def cleaning(
    run: Optional[str] = typer.Option(None, "--run", help="Run id (default: the last loyalty build)."),
    warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG,
) -> None:
    """What each rule did in a loyalty build: rows touched per file and rule, with examples.

    Example:

      martops loyalty cleaning
    """
    print_cleaning(config, warehouse, "loyalty", run, T.FILE_ORDER,
                   "no loyalty build has been logged yet; run `martops loyalty build --source <folder>`")
