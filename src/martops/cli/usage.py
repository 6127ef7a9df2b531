"""`martops usage ...`: generate (a synthetic data.db), build (load + marts for one delivery), the steps on
their own, cleaning (what the build's rules did) and show (the marts, with --export)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from martops.cli import platform
from martops.cli.builds import cleaning_table, print_cleaning
from martops.cli.common import CONFIG, FORCE, WAREHOUSE, open_warehouse, refuse_overwrite
from martops.cli.platform import run_cli, step_params
from martops.cli.render import console, print_view
from martops.errors import ConfigError
from martops.ops.cleaning_log import of_run
from martops.usage import tables as T
from martops.usage import views

usage_app = typer.Typer(
    help="Product usage (people and their events): interactions per customer and company, tiers, retention.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@usage_app.command()
def build(
    source: Optional[Path] = typer.Option(None, "--source", "-s", help="A SQLite file or a folder of CSV files with a "
                                          "people and an events table (default: sources.usage.path)."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="The date (YYYY-MM-DD) the usage marts are as of "
                                        "(default: usage.as_of, else the last event's day; at the month grain a "
                                        "month's last day)."),
    warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG,
) -> None:
    """Load a usage delivery and rebuild the usage marts as of a date.

    Bad rows go to ops.quarantine with table, row, column and value; copies of an event are dropped
    and counted; every rule's count goes to ops.cleaning_log and is printed. Re-running the same
    source gives the same tables. Table and column names are mapped in martops.yml (sources.usage).

    Example:

      martops usage generate --out data.db && martops usage build --source data.db

      martops usage build --source data.db --as-of 2024-06-30
    """
    def after(report, wh) -> None:
        rows = of_run(wh, report.run_id, T.FILE_ORDER)
        if rows:
            console.print(cleaning_table(rows, "What cleaning did (ops.cleaning_log)"))
        if report.ok:
            console.print(escape(f"Tables: {', '.join(T.MARTS)}. See them with `martops usage show customers|companies|"
                                 "tiers|retention`; quarantined rows: `martops quarantine --table usage_events`."))

    params = step_params(None, None, None, None, None, None, False, False, as_of)
    run_cli(["usage"], config=config, warehouse=warehouse, source=[f"usage={source}"] if source else None,
            params=params, title="usage build", after=after)


@usage_app.command()
def generate(
    out: Path = typer.Option(..., "--out", "-o", help="The SQLite file to write (people and events tables)."),
    users: int = typer.Option(2000, "--users", min=10, help="People to sign up over 2024 (about 50 events each)."),
    seed: int = typer.Option(7, "--seed", min=0, help="Random seed: same seed, same file."),
    clean_only: bool = typer.Option(False, "--clean", help="Write no planted bad rows (bots, test accounts and "
                                    "copies of events stay: they are usage data, not format errors)."),
    force: bool = FORCE,
) -> None:
    """Write a synthetic usage database in the shape of the seed's data.db (for demos and tests).

    Companies of very different sizes, heavy-tailed activity, churn, bots and test accounts, people
    with no company, copies of events and (unless --clean) a few rows the load quarantines.

    Example:

      martops usage generate --out data.db --users 2000 --seed 7
    """
    from martops.demo.usage import UsageDemoSpec, generate as gen

    if out.is_dir():
        raise ConfigError(f"--out {out} is a folder; give the SQLite file to write, e.g. {out / 'data.db'}")
    refuse_overwrite(force, ("--out", out))
    counts = gen(out, UsageDemoSpec(users=users, seed=seed, dirty=not clean_only), force=True)
    console.print(", ".join(f"{name}: {n:,} rows" for name, n in counts.items()) + f" in {out}")


for _name in ("load", "marts"):
    usage_app.command(_name)(platform.step_command(f"usage.{_name}"))


@usage_app.command()
def cleaning(
    run: Optional[str] = typer.Option(None, "--run", help="Run id (default: the last usage build)."),
    warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG,
) -> None:
    """What each rule did in a usage build: rows touched per table and rule, with examples.

    Example:

      martops usage cleaning
    """
    print_cleaning(config, warehouse, "usage", run, T.FILE_ORDER,
                   "no usage build has been logged yet; run `martops usage build --source <data.db>`")


SHARES = ("active_share", "share", "trend_change")


def _cell(value: object, column: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, float):
        if column in SHARES or column.startswith("month_"):
            return f"{value:.1%}" if column != "trend_change" else f"{value:+.0%}"
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)[:19] if column in ("first_seen", "last_seen") else str(value)


@usage_app.command()
def show(
    view: str = typer.Argument(..., help="customers, companies, tiers or retention."),
    tier: Optional[str] = typer.Option(None, "--tier", help="customers/companies: only this tier (new, dormant, low, "
                                       "medium, high, excluded)."),
    limit: int = typer.Option(30, "--limit", "-n", min=0, help="Rows to print (0: all); --export writes all."),
    export: Optional[Path] = typer.Option(None, "--export", help="Also write the rows to this .csv or .parquet file."),
    warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG, force: bool = FORCE,
) -> None:
    """The usage marts: interactions per customer or company (most first), the tiers with their rules,
    retention by signup month.

    Every figure is read from the marts.usage_* tables the build wrote. The retention view shows
    months 0-12 as columns (the export writes the same wide rows; marts.usage_retention is long).

    Example:

      martops usage show customers --tier high

      martops usage show retention --export retention.csv
    """
    refuse_overwrite(force, ("--export", export))
    _, wh = open_warehouse(config, warehouse, domain="usage", read_only=True)
    with wh:
        v = views.show(wh, view, tier)
    if not v.rows:
        if export is not None:
            raise ConfigError(f"--export {export}: nothing to write ({v.empty})")
        console.print(escape(f"{v.title}: {v.empty}"), highlight=False)
        return
    print_view(v, limit, export, lambda r, c: _cell(r.get(c), c), flex={"rule", "excluded_reason"})
