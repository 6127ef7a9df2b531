"""`martops kpis ...`: the campaign KPI mart from POS Lite exports (build, show, export, generate)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from martops.campaigns import tables as T
from martops.campaigns.tables import FILE_ORDER
from martops.campaigns.views import GRAINS, SHOW_BY, export_mart, kpi_summary
from martops.cli import platform
from martops.cli.builds import print_cleaning, run_build
from martops.cli.common import CONFIG, FORCE, WAREHOUSE, open_warehouse, parse_date, parse_range, refuse_overwrite
from martops.cli.render import console, fitted_table, left_out_note
from martops.errors import ConfigError
from martops.export_files import write_rows

kpis_app = typer.Typer(
    help="Campaign KPI mart: channel dictionary + leads funnel + web orders -> CAC, CPL, CTR, conversion rates.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@kpis_app.command()
def build(
    source: Path = typer.Option(..., "--source", "-s", help="Folder of exports: channels.csv plus leads_funnel.csv "
                                "and/or web_orders.csv (headers as the POS Lite exports, any case)."),
    warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG,
) -> None:
    """Load a delivery of exports, snapshot its daily facts (SCD2) and rebuild the KPI mart
    (`martops run kpis --source FOLDER`, plus the cleaning log).

    Bad rows go to ops.quarantine with their reason; every cleaning rule's count goes to
    ops.cleaning_log and is printed. Re-running the same delivery changes nothing.

    Example:

      martops kpis build --source ../shared/datasets/poslite-campaigns --warehouse kpis.duckdb
    """
    run_build(config, warehouse, "kpis", source, FILE_ORDER,
              "Quarantined rows: `martops quarantine --table leads_funnel` (or web_orders, channels). "
              f"Tables: {T.DAILY}, {T.WEEKLY}, {T.MONTHLY}; history in {T.SNAPSHOT}.")


for _name in ("load", "snapshot", "mart"):
    kpis_app.command(_name)(platform.step_command(f"kpis.{_name}"))


@kpis_app.command()
def show(
    since: Optional[str] = typer.Option(None, "--since", help="First day (YYYY-MM-DD), inclusive; default: all."),
    until: Optional[str] = typer.Option(None, "--until", help="Last day (YYYY-MM-DD), inclusive; default: all."),
    by: str = typer.Option("funnel", "--by", help=f"Group rows by: {', '.join(SHOW_BY)}."),
    export: Optional[Path] = typer.Option(None, "--export", help="Also write the rows (no TOTAL row) to this .csv "
                                          "or .parquet file; in a CSV money is rounded to cents, ratios to 6 decimals."),
    warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG, force: bool = FORCE,
) -> None:
    """KPIs over a date range, grouped by funnel, channel or country, with a total row. A range
    with no data is an error naming the dates the mart has.

    Ratios are ratios of sums over the range (never averages of daily ratios); '-' is a KPI
    whose denominator is 0 (no deals: no CAC).

    Example:

      martops kpis show --since 2022-03-01 --until 2022-03-31 --by channel_3
    """
    s, u = parse_range(since, until)
    if by not in SHOW_BY:
        raise ConfigError(f"--by {by!r} is not a dimension; choose one of {', '.join(SHOW_BY)}")
    refuse_overwrite(force, ("--export", export))
    _, wh = open_warehouse(config, warehouse, domain="kpis", read_only=True)
    with wh:
        rows, columns, (first, last) = kpi_summary(wh, s, u, by)
        if export is not None:
            write_rows(rows[:-1] if rows and rows[-1][by] == "TOTAL" else rows, columns, export, MONEY)
    span = f"{s or first} .. {u or last}"
    headers = [HEADERS.get(c, c) for c in columns]
    table, left_out = fitted_table(f"Campaign KPIs by {by}, {span}", headers,
                                   [[escape(_cell(r[c], c)) for c in columns] for r in rows], right=set(headers[1:]),
                                   styles=["bold" if r[by] == "TOTAL" else None for r in rows], cap=36)
    console.print(table)
    left_out_note(left_out, " (--export writes every column)")
    if export is not None:
        console.print(f"wrote {len(rows) - (rows[-1][by] == 'TOTAL'):,} rows to {export} (no TOTAL row)")


@kpis_app.command("export")
def export_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="File to write: .csv or .parquet."),
    grain: str = typer.Option("daily", "--grain", help=f"Which mart table: {', '.join(GRAINS)}."),
    since: Optional[str] = typer.Option(None, "--since", help="First day/period start (YYYY-MM-DD), inclusive."),
    until: Optional[str] = typer.Option(None, "--until", help="Last day/period start (YYYY-MM-DD), inclusive."),
    warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG, force: bool = FORCE,
) -> None:
    """Write a KPI mart table (every column) to CSV or Parquet, for a BI tool or a spreadsheet.

    In a CSV, money (spend, CAC, CPL) is rounded to cents and ratios to 6 decimals; Parquet keeps
    full precision.

    Example:

      martops kpis export --grain weekly --out weekly_kpis.parquet
    """
    if grain not in GRAINS:
        raise ConfigError(f"--grain {grain!r} is not one of {', '.join(GRAINS)}")
    s, u = parse_range(since, until)
    refuse_overwrite(force, ("--out", out))
    _, wh = open_warehouse(config, warehouse, domain="kpis", read_only=True)
    with wh:
        n = export_mart(wh, GRAINS[grain], out, s, u, MONEY)
    console.print(f"wrote {n:,} rows of {GRAINS[grain]} to {out}")


@kpis_app.command()
def cleaning(
    run: Optional[str] = typer.Option(None, "--run", help="Run id (default: the last build)."),
    warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG,
) -> None:
    """What each cleaning rule did in a build: rows touched per file and rule, with examples.

    Example:

      martops kpis cleaning --warehouse kpis.duckdb
    """
    print_cleaning(config, warehouse, "kpis", run, FILE_ORDER,
                   "no build has been logged yet; run `martops kpis build --source <folder>`")


@kpis_app.command()
def generate(
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write channels.csv, leads_funnel.csv, web_orders.csv."),
    campaigns: int = typer.Option(40, "--campaigns", min=4, help="Distinct campaign ids."),
    days: int = typer.Option(150, "--days", min=14, help="Days of data from --start."),
    start: str = typer.Option("2022-01-01", "--start", help="First day of the data (YYYY-MM-DD)."),
    seed: int = typer.Option(7, "--seed", help="Random seed: same seed, same files."),
    clean_only: bool = typer.Option(False, "--clean", help="Write clean exports (no planted dirt)."),
    force: bool = FORCE,
) -> None:
    """Write synthetic POS Lite exports with the real exports' kinds of dirt (for demos and tests).

    Example:

      martops kpis generate --out demo-exports --seed 7
    """
    from martops.demo.campaigns import FILES, CampaignDemoSpec, generate as gen

    refuse_overwrite(force, *[("--out", out / name) for name in FILES])
    counts = gen(out, CampaignDemoSpec(campaigns=campaigns, days=days, seed=seed, dirty=not clean_only,
                                       start=parse_date(start, "--start")), force=force)
    console.print(", ".join(f"{name}: {n:,} rows" for name, n in counts.items()) + f" in {out}")


MONEY = ("spend_eur", "lead_spend_eur", "spend_eur_28d", "cac", "cpl", "cac_28d", "cpl_28d")
"""The KPI mart's money columns (EUR), rounded to cents in a CSV."""
HEADERS = {"spend_eur": "spend EUR", "lead_to_meeting": "lead>meeting", "session_to_order": "session>order"}
"""Shorter headers so more KPIs fit the terminal (exports keep the column names)."""


def _cell(value: object, column: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if column in ("spend_eur", "cac", "cpl"):
            return f"{value:,.2f}"
        return f"{value:.2%}" if column in ("ctr",) or "_to_" in column else f"{value:,.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
