"""`martops crm show` / `crm export`: the CRM analysis marts as rich tables and files (registered on crm)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from martops.cli.common import CONFIG, FORCE, WAREHOUSE, open_warehouse, refuse_overwrite
from martops.cli.render import console, fitted_table, left_out_note
from martops.crm.marts import TABLES
from martops.crm.marts import views
from martops.export_files import write_rows

MARTS = ", ".join(f"{m} (--by {'|'.join(b)})" for m, b in views.BY.items())
MONEY = ("spend", "revenue", "avg_order_value", "avg_amount", "price", "sales_target", "sales_achieved",
         "gap_to_target", "target_with_achieved")
PERCENT = ("resolution_rate", "revenue_share", "interaction_share", "attainment", "share")


def _cell(value: object, column: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if column in PERCENT:
            return f"{value:.1%}"
        if column in MONEY:
            return f"{value:,.2f}"
        return f"{value:,.4g}" if value != int(value) else f"{int(value):,}"
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def show(
    mart: str = typer.Argument(..., help=f"Which mart: {', '.join(views.BY)}."),
    by: Optional[str] = typer.Option(None, "--by", help=f"Cut per mart (first is the default): {MARTS}."),
    limit: int = typer.Option(20, "--limit", "-n", min=0, help="Rows to print (0: all); --export writes all."),
    export: Optional[Path] = typer.Option(None, "--export", help="Also write the rows to this .csv or .parquet file "
                                          "(in a CSV money is rounded to cents, ratios to 6 decimals)."),
    warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG, force: bool = FORCE,
) -> None:
    """A CRM mart as a table, with its headline: customers (RFM, spend tiers, top-decile revenue share),
    products (top/bottom sellers, whether prices vary), support (resolution rate), sales (attainment).

    Customers are golden customers when the dedupe step has written crm.customer_golden_map, else
    one per customer_id. Rates are ratios of sums; '-' is a rate whose denominator is 0 or unknown.

    Example:

      martops crm show customers --by segment

      martops crm show sales --by region --limit 5 --export regions.csv
    """
    refuse_overwrite(force, ("--export", export))
    _, wh = open_warehouse(config, warehouse, domain="crm", read_only=True)
    with wh:
        view = views.show(wh, mart, by, None)
    if export is not None:
        write_rows(view.rows, view.columns, export, MONEY)
    rows = view.rows[:limit] if limit else view.rows
    shown = f", first {len(rows):,} of {view.total_rows:,}" if len(rows) < view.total_rows else ""
    numeric = {c for c in view.columns
               if any(isinstance(r[c], (int, float)) and not isinstance(r[c], bool) for r in rows)}
    table, left_out = fitted_table(f"{view.title}{shown}", view.columns,
                                   [[escape(_cell(r[c], c)) for c in view.columns] for r in rows], right=numeric)
    console.print(table)
    left_out_note(left_out, " (--export writes every column)")
    for line in view.headlines:
        console.print(line, highlight=False)
    if export is not None:
        console.print(f"wrote {len(view.rows):,} rows to {export}")


def export(
    mart: str = typer.Argument(..., help=f"Which mart: {', '.join(TABLES)}, or products-prices "
                               "(volume per product and price, where prices vary)."),
    out: Path = typer.Option(..., "--out", "-o", help="File to write: .csv or .parquet."),
    warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG, force: bool = FORCE,
) -> None:
    """Write a whole CRM mart table (every column) to CSV or Parquet, for a BI tool or a spreadsheet.

    Tables: customers = marts.crm_customer_value, products = marts.crm_product_sales,
    support = marts.crm_support, sales = marts.crm_sales_attainment. In a CSV money is rounded
    to cents and ratios to 6 decimals; Parquet keeps full precision.

    Example:

      martops crm export customers --out customer_value.csv
    """
    refuse_overwrite(force, ("--out", out))
    _, wh = open_warehouse(config, warehouse, domain="crm", read_only=True)
    with wh:
        n = views.export(wh, mart, out, MONEY)
    console.print(f"wrote {n:,} rows of {TABLES.get(mart, mart)} to {out}")
