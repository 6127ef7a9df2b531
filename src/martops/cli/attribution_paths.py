"""`martops attribution paths`: data-driven attribution of an aggregated path file (no warehouse)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from martops.cli.common import FORCE, refuse_overwrite
from martops.cli.render import console, fitted_table, left_out_note
from martops.errors import ConfigError

PATH_MODELS = ("markov", "shapley")
COLUMNS = {"markov": ["channel", "removal_effect", "conversions", "value", "share"],
           "shapley": ["channel", "shapley_value", "std_error", "conversions", "value", "share"]}


def paths(
    input: Path = typer.Option(..., "--input", "-i", help="Path file: path;total_conversions;total_conversion_value;"
                               "total_null, channels joined by ' > ' (ChannelAttribution's format)."),
    model: str = typer.Option("markov", "--model", help=f"Model: {', '.join(PATH_MODELS)}."),
    order: Optional[int] = typer.Option(None, "--order", min=1, max=4,
                                        help="markov: the state is the last K channels (1..4; default 1)."),
    game: Optional[str] = typer.Option(None, "--game", help="shapley: conversions (default: each path's conversions "
                                       "split equally over its distinct channels) or conversion_rate (uses total_null)."),
    samples: Optional[int] = typer.Option(None, "--samples", min=2,
                                          help="shapley above 20 channels: random channel orders sampled (default 2000)."),
    seed: Optional[int] = typer.Option(None, "--seed", min=0, help="shapley above 20 channels: seed of the sampled orders (default 0)."),
    export: Optional[Path] = typer.Option(None, "--export", help="Also write the rows to this .csv or .parquet file."),
    force: bool = FORCE,
) -> None:
    """Exact data-driven attribution of aggregated paths: Markov removal effects (no simulation)
    or Shapley values; per channel its weight, attributed conversions and value, and share.

    Example:

      martops attribution paths --input PathData.csv --model markov --order 2 --export markov.csv

      martops attribution paths --input PathData.csv --model shapley --game conversion_rate
    """
    from martops.attribution.path_file import read_path_file

    if model not in PATH_MODELS:
        raise ConfigError(f"--model {model!r} is not a path model; choose one of {', '.join(PATH_MODELS)}")
    from martops.attribution.shapley import GAMES

    other = {"markov": [("--game", game), ("--samples", samples), ("--seed", seed)], "shapley": [("--order", order)]}
    for flag, value in other[model]:
        if value is not None:
            raise ConfigError(f"{flag} does not apply to --model {model}; it is for --model "
                              f"{'shapley' if model == 'markov' else 'markov'}")
    game = game or "conversions"
    if game not in GAMES:
        raise ConfigError(f"--game {game!r} is not a Shapley game; choose one of {', '.join(GAMES)}")
    refuse_overwrite(force, ("--export", export))
    data = read_path_file(input)
    rows, headline, title, notes = (_markov(data, order or 1) if model == "markov" else
                                    _shapley(data, game, samples or 2000, 0 if seed is None else seed,
                                             [f for f, v in (("--samples", samples), ("--seed", seed)) if v is not None]))
    if export is not None:
        from martops.export_files import write_rows

        write_rows(rows, COLUMNS[model], export, money=("value",))
    total_conv, total_value = float(data.conversions.sum()), float(data.value.sum())
    console.print(f"{escape(str(input))}: {len(data.channels):,} distinct paths, {len(rows)} channels, "
                  f"{total_conv:,.2f} conversions, value {total_value:,.2f}; {headline}",
                  highlight=False, soft_wrap=True)
    weight = COLUMNS[model][1]
    sampled = any(r.get("std_error") for r in rows)  # exact results have no error to show
    text = [[escape(r["channel"]), f"{r[weight]:.6f}", *([f"{r['std_error']:.6f}"] if sampled else []),
             f"{r['conversions']:,.2f}", f"{r['value']:,.2f}", f"{r['share']:.2%}"] for r in rows]
    header = ["channel", weight.replace("_", " "), *(["std error"] if sampled else []),
              "conversions", "value", "share"]
    table, left_out = fitted_table(title, header, text, right=set(header[1:]))
    console.print(table)
    left_out_note(left_out, " (--export writes every column)")
    idle = sorted({c for p in data.channels for c in p} - {r["channel"] for r in rows})
    if idle:
        console.print(f"note: {len(idle)} channel(s) appear only on rows with 0 conversions and 0 nulls, so no "
                      f"journey passes through them and they are not attributed: {escape(', '.join(idle[:10]))}"
                      f"{' ...' if len(idle) > 10 else ''}", highlight=False, soft_wrap=True)
    for note in notes:
        console.print(note, highlight=False, soft_wrap=True)
    if export is not None:
        console.print(f"wrote {len(rows)} rows to {escape(str(export))}", highlight=False)


def _markov(data, order: int) -> tuple[list[dict], str, str, list[str]]:
    from martops.attribution.markov import markov_attribution

    result = markov_attribution(data, order)
    return (result.rows(), f"markov order {order} ({result.states:,} states): P(conversion) = {result.p_conversion:.6f}",
            f"Markov order {order}: removal effects", [])


def _shapley(data, game: str, samples: int, seed: int, sampling: list[str]) -> tuple[list[dict], str, str, list[str]]:
    from martops.attribution.shapley import over_credited, shapley_attribution

    agg = data.aggregated()
    keep = (agg.conversions + agg.nulls) > 0
    channels = [c for c, k in zip(agg.channels, keep) if k]
    try:
        r = shapley_attribution(channels, agg.conversions[keep], agg.value[keep], agg.nulls[keep],
                                game=game, samples=samples, seed=seed)
    except ValueError as exc:
        raise ConfigError(f"--model shapley: {exc}") from None
    over = over_credited(r, channels, agg.conversions[keep])
    total = float(r.conversions.sum())
    rows = [{"channel": ch, "shapley_value": float(phi), "std_error": float(se), "conversions": float(c),
             "value": float(v), "share": float(c) / total if total else 0.0}
            for ch, phi, se, c, v in zip(r.channels, r.shapley, r.std_error, r.conversions, r.value)]
    rows.sort(key=lambda row: (-row["conversions"], row["channel"]))
    how = "exact" if r.exact else f"{samples:,} sampled orders (seed {seed}), standard errors shown"
    notes = [] if not (r.exact and sampling) else [
        f"note: {' and '.join(sampling)} unused: this result is exact (sampling is only for the conversion_rate "
        "game above 20 channels)"]
    if over:
        notes.append(f"note: the conversion_rate game credits {len(over)} channel(s) with more conversions than "
                      f"the paths they appear in hold ({escape(', '.join(over[:10]))}{' ...' if len(over) > 10 else ''}): "
                      "a rare channel with a high rate weighs as much in small coalitions as a common one; "
                      "--game conversions never does this")
    return rows, f"shapley, game {game}, {how}: v(all channels) = {r.grand_value:.6g}", f"Shapley ({game})", notes
