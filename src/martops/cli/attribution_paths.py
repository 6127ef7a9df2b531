"""`martops attribution paths`: data-driven attribution of an aggregated path file (no warehouse)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from martops.cli.common import FORCE, refuse_overwrite
from martops.cli.render import console, fitted_table, left_out_note
from martops.errors import ConfigError

PATH_MODELS = ("markov",)
COLUMNS = ["channel", "removal_effect", "conversions", "value", "share"]


def paths(
    input: Path = typer.Option(..., "--input", "-i", help="Path file: path;total_conversions;total_conversion_value;"
                               "total_null, channels joined by ' > ' (ChannelAttribution's format)."),
    model: str = typer.Option("markov", "--model", help=f"Model: {', '.join(PATH_MODELS)}."),
    order: int = typer.Option(1, "--order", help="Markov order: the state is the last K channels (1..4)."),
    export: Optional[Path] = typer.Option(None, "--export", help="Also write the rows to this .csv or .parquet file."),
    force: bool = FORCE,
) -> None:
    """Exact Markov-chain attribution (removal effects, no simulation) of aggregated paths:
    per channel its removal effect, attributed conversions and value, and share.

    Example:

      martops attribution paths --input PathData.csv --model markov --order 2 --export markov.csv
    """
    from martops.attribution.markov import ORDERS, markov_attribution
    from martops.attribution.path_file import read_path_file

    if model not in PATH_MODELS:
        raise ConfigError(f"--model {model!r} is not a path model; choose one of {', '.join(PATH_MODELS)}")
    if order not in ORDERS:
        raise ConfigError(f"--order {order} is out of range; choose 1..{ORDERS[-1]}")
    refuse_overwrite(force, ("--export", export))
    data = read_path_file(input)
    result = markov_attribution(data, order)
    rows = result.rows()
    if export is not None:
        from martops.export_files import write_rows

        write_rows(rows, COLUMNS, export, money=("value",))
    console.print(f"{escape(str(input))}: {len(data.channels):,} distinct paths, {len(rows)} channels, "
                  f"{result.total_conversions:,.2f} conversions, value {result.total_value:,.2f}; "
                  f"markov order {order} ({result.states:,} states): P(conversion) = {result.p_conversion:.6f}",
                  highlight=False, soft_wrap=True)
    text = [[escape(r["channel"]), f"{r['removal_effect']:.6f}", f"{r['conversions']:,.2f}", f"{r['value']:,.2f}",
             f"{r['share']:.2%}"] for r in rows]
    table, left_out = fitted_table(f"Markov order {order}: removal effects", ["channel", "removal effect",
                                   "conversions", "value", "share"], text,
                                   right={"removal effect", "conversions", "value", "share"})
    console.print(table)
    left_out_note(left_out, " (--export writes every column)")
    if export is not None:
        console.print(f"wrote {len(rows)} rows to {escape(str(export))}", highlight=False)
