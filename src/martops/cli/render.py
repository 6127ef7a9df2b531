"""Rich output shared by commands: the summary table and the step progress bar."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any, Callable, Collection, Iterator, Optional

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from martops.results import StepResult

# Wider than rich's 80-column default when output is a pipe or a CI log, unless COLUMNS says otherwise.
console = Console(width=None if Console().is_terminal or os.environ.get("COLUMNS", "").isdigit() else 140)
console_err = Console(stderr=True)


def summary_table(results: list[StepResult], title: str = "Summary") -> Table:
    """One row per step; at 80 columns the range and seconds give way to the counts and details."""
    rows = [[r.step, f"{r.since}..{r.until}" if r.since else "", f"{r.rows_in:,}", f"{r.rows_out:,}",
             f"{r.seconds:.2f}", escape(", ".join(f"{k}={v}" for k, v in r.details.items()))] for r in results]
    table, _ = fitted_table(title, ["step", "range", "rows in", "rows out", "seconds", "details"], rows,
                            right={"rows in", "rows out", "seconds"}, flex={"details"},
                            priority=["rows in", "rows out", "details", "range", "seconds"])
    return table


@contextlib.contextmanager
def step_progress(total: int, description: str = "steps") -> Iterator[tuple[Progress, int]]:
    """A bar over the steps of a run; `transient` so the summary table is what stays on screen."""
    progress = Progress(
        SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(),
        TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
        console=console_err, transient=True, disable=not console_err.is_terminal,
    )
    with progress:
        task = progress.add_task(description, total=total)
        yield progress, task


STATUS_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red", "error": "bold red"}


def check_table(rows: list[dict], title: str = "Checks") -> Table:
    """Check results (dicts shaped like ops.check_results rows): status, counts, first example."""
    text = []
    for r in rows:
        style = STATUS_STYLE.get(r["status"], "")
        sample = r.get("sample")
        if r["status"] == "error":
            detail = r.get("message") or ""
        elif sample:
            detail = json.loads(sample)[0] if isinstance(sample, str) else sample[0]
            detail = json.dumps(detail, default=str)
        else:
            detail = ""
        text.append([f"[{style}]{r['status']}[/]", escape(r["table_name"]), escape(r["check_name"]),
                     f"{r['failing_count']:,}", escape(detail[:300])])
    table, _ = fitted_table(title, ["status", "table", "check", "failing", "example / message"], text, keep=3,
                            right={"failing"}, flex={"example / message", "check"}, cap=48)
    return table


def fitted_table(title: str, columns: list[str], rows: list[list[str]], *, width: int | None = None,
                 right: Collection[str] = (), keep: int = 1, cap: int = 40, flex: Collection[str] = (),
                 priority: list[str] | None = None, styles: list[str | None] | None = None,
                 lines: bool = False) -> tuple[Table, list[str]]:
    """`rows` (text, rich markup allowed) as a table no wider than `width` (the console's), never
    with a squeezed column. The first `keep` columns (the labels) always stay at full width. The
    others are taken in `priority` order (default: left to right) while they fit at their natural
    width (at most `cap`); from the first that does not fit, the rest are left out. A `flex`
    column (free text: an error, a detail) needs only 16 columns and wraps into what is left.
    Columns keep their order on screen. Returns the table and the names of the columns left out.
    """
    width = width or console.width
    head = [max(map(len, c.splitlines() or [""])) for c in columns]  # a header may have several lines
    natural = [min(cap, max([head[i]] + [Text.from_markup(part).cell_len for r in rows for part in r[i].split("\n")]))
               for i in range(len(columns))]  # a cell may hold several lines (one name each): its widest counts
    need = [min(natural[i], max(16, head[i])) if c in flex else natural[i] for i, c in enumerate(columns)]
    order = list(range(keep)) + [columns.index(c) for c in (priority or columns) if columns.index(c) >= keep]
    used, shown = 1, set()  # the left border; each column adds its padding (2) and a border (1)
    for i in order:
        if i >= keep and used + need[i] + 3 > width:
            break
        shown.add(i)
        used += need[i] + 3
    table = Table(title=title, title_justify="left", show_lines=lines)  # lines: rows of several lines each
    for i in sorted(shown):
        wraps = columns[i] in flex or natural[i] >= cap
        table.add_column(columns[i], justify="right" if columns[i] in right else "left", overflow="fold",
                         min_width=need[i], no_wrap=not wraps, ratio=1 if columns[i] in flex else None)
    for n, r in enumerate(rows):
        table.add_row(*[r[i] for i in sorted(shown)], style=styles[n] if styles else None)
    return table, [c.replace("\n", " ") for i, c in enumerate(columns) if i not in shown]


def left_out_note(left_out: list[str], hint: str = "") -> None:
    """Under a fitted table: which columns the width left out."""
    if left_out:
        console.print(f"left out at this width: {', '.join(left_out)}{hint}", highlight=False)


def print_view(view: Any, limit: int, export: Optional[Path], cell: Callable[[dict, str], str], *,
               header: Callable[[str], str] = lambda c: c, flex: Collection[str] = (),
               money: Collection[str] = ()) -> None:
    """A `show` command's view (title, columns, rows, headlines: `martops.results.View`)
    as a fitted table of its first `limit` rows (0: all) and its headlines; every row and column
    written to `export` first (.csv or .parquet; a CSV's fractions rounded as every export's are,
    `money` columns to cents, the rest to 6 decimals). `cell(row, column)` is the text of a value."""
    from martops.export_files import write_rows

    if export is not None:
        write_rows(view.rows, list(view.rows[0]) if view.rows else view.columns, export, money)
    rows = view.rows[:limit] if limit else view.rows
    shown = f", first {len(rows):,} of {len(view.rows):,}" if len(rows) < len(view.rows) else ""
    numeric = {header(c) for c in view.columns
               if any(isinstance(r.get(c), (int, float)) and not isinstance(r.get(c), bool) for r in rows)}
    table, left_out = fitted_table(f"{view.title}{shown}", [header(c) for c in view.columns],
                                   [[escape(cell(r, c)) for c in view.columns] for r in rows], right=numeric, flex=flex)
    console.print(table)
    left_out_note(left_out, " (--export writes every column)")
    for line in view.headlines:
        console.print(escape(line), highlight=False)
    if export is not None:
        console.print(f"wrote {len(view.rows):,} rows to {export}")


class WarningSummary(logging.Handler):
    """Without -v, log records of WARNING and above (martops', Splink's, Python warnings') are not
    printed as log lines: they are gathered and printed once, after the command's own output, as
    `warning: ...` lines (a repeated message once, with its count). `martops.engine`'s notes (a
    wait for another process's lock) are printed at once, since the wait happens now.
    The lines go to stdout with the summary, or to stderr when stdout carries data (`data_on_stdout`).
    """

    data_on_stdout = False

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        message = " ".join(record.getMessage().split())
        if record.name.startswith("martops.engine"):  # martops.engine, martops.engines.*: waiting for a lock
            console_err.print(f"note: {message}", highlight=False, soft_wrap=True)
            return
        self.seen[message] = self.seen.get(message, 0) + 1

    def print_summary(self) -> None:
        out = console_err if WarningSummary.data_on_stdout else console
        for message, n in self.seen.items():
            out.print(f"[yellow]warning:[/] {escape(message)}" + (f" ({n} times)" if n > 1 else ""),
                      highlight=False, soft_wrap=True)
        self.seen.clear()
