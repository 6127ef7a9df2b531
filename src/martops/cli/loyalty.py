"""`martops loyalty ...`: build (load, fill, reporting, insights for one delivery), the steps on their
own, cleaning (what the build's rules did) and show (the insights, with --export)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from martops.cli import platform
from martops.cli.builds import cleaning_table, print_cleaning
from martops.cli.common import CONFIG, FORCE, WAREHOUSE, open_warehouse, refuse_overwrite
from martops.cli.platform import AS_OF, run_cli, step_params
from martops.cli.render import console, print_view
from martops.loyalty import tables as T
from martops.loyalty import views
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


@loyalty_app.command()
def generate(
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write customers.csv and transactions.csv."),
    customers: int = typer.Option(2000, "--customers", min=10, help="Customers to sign up over 2012-2013."),
    lift: float = typer.Option(1.4, "--lift", min=0.0, help="How many times as often enrolled customers buy."),
    seed: int = typer.Option(7, "--seed", help="Random seed: same seed, same files."),
    clean_only: bool = typer.Option(False, "--clean", help="Write clean files (no planted bad rows)."),
    force: bool = FORCE,
) -> None:
    """Write a synthetic loyalty folder in the February Challenge's shape (for demos and tests).

    Example:

      martops loyalty generate --out loyalty-demo --customers 2000 --seed 7
    """
    from martops.demo.loyalty import FILES, LoyaltyDemoSpec, generate as gen
    from martops.errors import ConfigError

    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; give a folder (customers.csv and transactions.csv go in it)")
    refuse_overwrite(force, *[("--out", out / name) for name in FILES])
    counts = gen(out, LoyaltyDemoSpec(customers=customers, seed=seed, lift=lift, dirty=not clean_only), force=force)
    console.print(", ".join(f"{name}: {n:,} rows" for name, n in counts.items()) + f" in {out}")


for _name in ("load", "fill", "reporting", "insights"):
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


MONEY = ("gross_value_cents", "net_value_cents", "discount_cents", "net_revenue_per_customer_cents")
PERCENT = ("share", "share_of_arm", "share_of_previous", "drop_off", "share_of_purchases", "share_treated",
           "share_control")


def _dollars(cents: float) -> str:
    return f"{'-' if cents < 0 else ''}${abs(cents) / 100:,.2f}"


def _header(column: str) -> str:
    """Money columns hold cents; the screen shows dollars, and says so."""
    return column.replace("_cents", " ($)") if column in MONEY else column


def _cell(value: object, column: str, unit: str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, float):
        if column in PERCENT or (unit == "share" and column in ("mean_treated", "mean_control", "difference",
                                                                 "ci_low", "ci_high")):
            return f"{value:.1%}" if column not in ("difference", "ci_low", "ci_high") else f"{value * 100:+.1f} pts"
        if column == "p_value":
            return f"{value:.2g}" if value >= 1e-4 else "<0.0001"
        if unit == "cents" and column in ("mean_treated", "mean_control", "difference", "ci_low", "ci_high") \
                or column in MONEY:
            return _dollars(value)
        return f"{value:,.2f}"
    if isinstance(value, int):
        return _dollars(value) if column in MONEY else f"{value:,}"
    return str(value)


@loyalty_app.command()
def show(
    view: str = typer.Argument(..., help="behaviour, programme or segments."),
    by: Optional[str] = typer.Option(None, "--by", help="behaviour: dropoff|frequency|seasonality; programme: "
                                     "all|location|gender|age|balance; segments: location|gender|age."),
    limit: int = typer.Option(30, "--limit", "-n", min=0, help="Rows to print (0: all); --export writes all."),
    export: Optional[Path] = typer.Option(None, "--export", help="Also write the rows to this .csv or .parquet file."),
    warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG, force: bool = FORCE,
) -> None:
    """The loyalty insights: purchase behaviour, the programme test (enrolled vs control), segments.

    Money is shown in dollars (the tables hold cents); differences of shares in percentage points.
    Every figure is read from the loyalty.* insight tables the build wrote.

    Example:

      martops loyalty show programme

      martops loyalty show behaviour --by dropoff --export dropoff.csv
    """
    refuse_overwrite(force, ("--export", export))
    _, wh = open_warehouse(config, warehouse, domain="loyalty", read_only=True)
    with wh:
        v = views.show(wh, view, by)
    print_view(v, limit, export, lambda r, c: _cell(r.get(c), c, r.get("unit")), header=_header, flex={"note"},
               money=MONEY)
