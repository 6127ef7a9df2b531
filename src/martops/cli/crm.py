"""`martops crm ...`: build and cleaning (the CRM pipeline), dedupe and generate-people (Splink on any
table), show and export (the marts, registered from `crm_marts`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from martops.cli import crm_marts
from martops.cli import platform
from martops.cli.builds import print_cleaning, run_build
from martops.cli.common import CONFIG, WAREHOUSE
from martops.cli.dedupe import dedupe, generate_people
from martops.crm import tables as T

crm_app = typer.Typer(
    help="CRM foundation: customers, transactions, products, interactions and the sales team, standardised.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


# -- load ------------------------------------------------------------------------------------
@crm_app.command()
def build(
    source: Path = typer.Option(..., "--source", "-s", help="Folder of the CRM extract: customers.csv plus any of "
                                "transactions, products, interactions, sales_team, countries (.csv); other file "
                                "names and headers via crm.files / crm.columns in martops.yml."),
    warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG,
) -> None:
    """Load a CRM delivery: staging (raw + standardised values, every copy) and crm.* (one row per id).

    Bad rows go to ops.quarantine with file, line, column and value; every cleaning rule's count
    goes to ops.cleaning_log and is printed. Re-running the same folder changes nothing.

    Example:

      martops crm build --source ../shared/datasets/crm
    """
    run_build(config, warehouse, "crm", source, T.FILE_ORDER,
              "Quarantined rows: `martops quarantine --table crm_transactions` (or crm_customers, ...). "
              f"Tables: {', '.join(T.CLEAN.values())}; every source row in staging.crm_*.")


# -- the steps: each is `martops run crm.<step>`, with run's flags -----------------------------
for _name, _command in (("load", "load"), ("dedupe", "dedupe-customers"), ("golden", "golden"), ("marts", "marts")):
    crm_app.command(_command)(platform.step_command(f"crm.{_name}"))


@crm_app.command()
def cleaning(
    run: Optional[str] = typer.Option(None, "--run", help="Run id (default: the last crm build)."),
    warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG,
) -> None:
    """What each cleaning rule did in a CRM build: rows touched per file and rule, with examples.

    Example:

      martops crm cleaning
    """
    print_cleaning(config, warehouse, "crm", run, T.FILE_ORDER,
                   "no crm build has been logged yet; run `martops crm build --source <folder>`")


# -- marts (show, export: martops.cli.crm_marts) ----------------------------------------------
crm_app.command("show")(crm_marts.show)
crm_app.command("export")(crm_marts.export)


# -- dedupe (Splink) -------------------------------------------------------------------------
crm_app.command()(dedupe)
crm_app.command("generate-people")(generate_people)
