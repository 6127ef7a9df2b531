"""Rich output shared by commands: the summary table and the step progress bar."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from typing import Iterator

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from martops.results import StepResult

# Wider than rich's 80-column default when output is a pipe or a CI log, unless COLUMNS says otherwise.
console = Console(width=None if Console().is_terminal or os.environ.get("COLUMNS", "").isdigit() else 140)
console_err = Console(stderr=True)


def summary_table(results: list[StepResult], title: str = "Summary") -> Table:
    table = Table(title=title, title_justify="left")
    for col, justify in [("step", "left"), ("range", "left"), ("rows in", "right"),
                         ("rows out", "right"), ("seconds", "right")]:
        table.add_column(col, justify=justify, no_wrap=True)
    table.add_column("details", ratio=1)
    for r in results:
        span = f"{r.since}..{r.until}" if r.since else ""
        details = ", ".join(f"{k}={v}" for k, v in r.details.items())
        table.add_row(r.step, span, f"{r.rows_in:,}", f"{r.rows_out:,}", f"{r.seconds:.2f}", details)
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
    table = Table(title=title, title_justify="left")
    for col, justify in [("status", "left"), ("table", "left"), ("check", "left"), ("failing", "right")]:
        table.add_column(col, justify=justify, no_wrap=col != "check")
    table.add_column("example / message", ratio=1)
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
        table.add_row(f"[{style}]{r['status']}[/]", r["table_name"], r["check_name"], f"{r['failing_count']:,}",
                      detail[:300])
    return table


def fitted_table(title: str, columns: list[str], rows: list[list[str]], *, width: int | None = None,
                 right: set[str] = frozenset(), keep: int = 1, cap: int = 40) -> tuple[Table, list[str]]:
    """`rows` (already text) as a table no wider than `width` (the console's): the first `keep`
    columns always stay and are never narrower than their header (they are the labels); the
    others follow in order while they fit at their natural width (at most `cap`, longer cells
    wrap); from the first that does not fit, the rest are left out. Returns the table and the names of the columns left out.
    """
    width = width or console.width
    head = [max(map(len, c.splitlines() or [''])) for c in columns]  # a header may have several lines
    natural = [min(cap, max([head[i]] + [len(r[i]) for r in rows])) for i in range(len(columns))]
    used, shown = 1, []  # the left border; each column adds its padding (2) and a border (1)
    for i, w in enumerate(natural):
        if i >= keep and used + w + 3 > width:
            break  # the columns are in priority order: leave out this one and every later one
        shown.append(i)
        used += w + 3
    table = Table(title=title, title_justify="left")
    for i in shown:
        label = i < keep
        table.add_column(columns[i], justify="right" if columns[i] in right else "left", overflow="fold",
                         min_width=min(natural[i], max(head[i], 8)) if label else None,
                         no_wrap=label and natural[i] <= 24)
    for r in rows:
        table.add_row(*[r[i] for i in shown])
    return table, [c.replace('\n', ' ') for i, c in enumerate(columns) if i not in shown]


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
        if record.name == "martops.engine":
            console_err.print(f"note: {message}", highlight=False, soft_wrap=True)
            return
        self.seen[message] = self.seen.get(message, 0) + 1

    def print_summary(self) -> None:
        out = console_err if WarningSummary.data_on_stdout else console
        for message, n in self.seen.items():
            out.print(f"[yellow]warning:[/] {escape(message)}" + (f" ({n} times)" if n > 1 else ""),
                      highlight=False, soft_wrap=True)
        self.seen.clear()
