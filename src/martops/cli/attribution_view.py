"""`martops attribution show`: cost, conversions, revenue, CPO and ROAS per channel, models side by side."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from martops.attribution.channel_view import ChannelRow, channel_view
from martops.cli.common import CONFIG, FORCE, WAREHOUSE, open_warehouse, parse_range, refuse_overwrite
from martops.cli.render import WarningSummary, console, console_err, fitted_table, left_out_note
from martops.errors import ConfigError
from martops.export_files import csv_text, write_atomically

CSV_COLUMNS = ["model", "channel_name", "cost", "conversions", "revenue", "CPO", "ROAS", "unknown_cost_sessions"]
MONEY = ("cost", "revenue", "CPO")


def show(
    since: Optional[str] = typer.Option(None, "--since", help="First session date (YYYY-MM-DD), inclusive; default: all."),
    until: Optional[str] = typer.Option(None, "--until", help="Last session date (YYYY-MM-DD), inclusive; default: all."),
    models: Optional[list[str]] = typer.Option(None, "--model", "-m", help="A model to show; repeat for several side "
                                               "by side (default: every model reported)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, or csv (one row per model and channel, to stdout)."),
    export: Optional[Path] = typer.Option(None, "--export", help="Also write the CSV rows to this file."),
    warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG, force: bool = FORCE,
) -> None:
    """Per channel over a range: cost, conversions (attributed credit), revenue, CPO (cost /
    conversions) and ROAS (revenue / cost), for one model or several side by side.

    Read from marts.channel_reporting; dates are session dates. Ratios are ratios of the sums. An
    unknown cost is left out of cost, CPO and ROAS (a note counts the sessions); '-' is a ratio
    whose denominator is 0. CSV (--format csv, --export): no TOTAL row, money rounded to cents,
    conversions and ROAS to 6 decimals.

    Example:

      martops attribution show --since 2023-09-01 --until 2023-09-07 --model ihc --model last_touch
    """
    s, u = parse_range(since, until)
    if fmt not in ("table", "csv"):
        raise ConfigError(f"--format {fmt!r} is not a format; choose table or csv")
    refuse_overwrite(force, ("--export", export))
    _, wh = open_warehouse(config, warehouse, domain="attribution", read_only=True)
    with wh:
        shown, rows, (first, last) = channel_view(wh, list(dict.fromkeys(models)) if models else None, s, u)
    if export is not None:
        write_atomically(export, lambda tmp: _write_csv(rows, tmp.open("w", newline="", encoding="utf-8")))
    if fmt == "csv":
        WarningSummary.data_on_stdout = True
        _write_csv(rows, sys.stdout)
    else:
        _print_table(shown, rows, f"Channels, {first} .. {last} (session dates)")
    notes = console_err if fmt == "csv" else console  # stdout holds only the CSV
    unknown = {r.channel_name: r.unknown_cost_sessions for r in rows if r.unknown_cost_sessions and r.model == shown[0]}
    if unknown:
        notes.print(f"note: {sum(unknown.values()):,} session(s) have an unknown cost (channels: "
                      f"{', '.join(sorted(unknown))}); cost, CPO and ROAS cover the known costs only", highlight=False)
    if export is not None:
        notes.print(f"wrote {len(rows):,} rows to {export}", highlight=False)


def _write_csv(rows: list[ChannelRow], fh) -> None:
    w = csv.writer(fh, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in rows:
        values = {"model": r.model, "channel_name": r.channel_name, "cost": r.cost, "conversions": r.conversions,
                  "revenue": r.revenue, "CPO": r.cpo, "ROAS": r.roas, "unknown_cost_sessions": r.unknown_cost_sessions}
        w.writerow([csv_text(values[c], c in MONEY) for c in CSV_COLUMNS])
    if fh is not sys.stdout:
        fh.close()


def _cents(v: float | None) -> float | None:
    return None if v is None else round(v, 2)  # sums of the same costs in another order differ in the last bits


def _money(v: float | None) -> str:
    return "-" if v is None else f"{v:,.2f}"


def _print_table(models: list[str], rows: list[ChannelRow], title: str) -> None:
    """Metric by metric, the models side by side: conversions, CPO, ROAS, then revenue (the first
    columns left out when the terminal is narrow); one cost column while every model agrees on it."""
    by = {(r.model, r.channel_name): r for r in rows}
    channels = list(dict.fromkeys(r.channel_name for r in rows))
    one_cost = all(len({_cents(by[m, c].cost) for m in models if (m, c) in by}) == 1 for c in channels)
    tag = (lambda label, m: f"{label}\n{m}") if len(models) > 1 else (lambda label, m: label)
    metrics = [("conversions", lambda r: f"{r.conversions:,.2f}"), ("CPO", lambda r: _money(r.cpo)),
               ("ROAS", lambda r: "-" if r.roas is None else f"{r.roas:,.2f}"), ("revenue", lambda r: _money(r.revenue))]
    costs = [("cost", None)] if one_cost else [(tag("cost", m), m) for m in models]
    columns = ["channel"] + [c for c, _ in costs] + [tag(label, m) for label, _ in metrics for m in models]
    total = {m: _total(m, [r for r in rows if r.model == m]) for m in models}

    def line(channel: str, get) -> list[str]:
        first = next((get(m) for m in models if get(m) is not None), None)
        cells = [channel] + [_money(first.cost if first else None) if m is None else
                             ("" if get(m) is None else _money(get(m).cost)) for _, m in costs]
        for _, fn in metrics:
            cells += ["" if get(m) is None else fn(get(m)) for m in models]
        return cells

    text = [line(c, lambda m, c=c: by.get((m, c))) for c in channels] + [line("TOTAL", total.get)]
    text = [[escape(cell) for cell in row] for row in text]
    table, left_out = fitted_table(title, columns, text, right=set(columns[1:]),
                                   styles=[None] * (len(text) - 1) + ["bold"])
    if len(table.rows) > 1:
        table.rows[-2].end_section = True
    console.print(table)
    left_out_note(left_out, " (--format csv has every value)")


def _total(model: str, rows: list[ChannelRow]) -> ChannelRow:
    known = [r.cost for r in rows if r.cost is not None]
    return ChannelRow(model, "TOTAL", sum(known) if known else None, sum(r.conversions for r in rows),
                      sum(r.revenue for r in rows), sum(r.unknown_cost_sessions for r in rows))
