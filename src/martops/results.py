"""What every step returns: counts and timing a person (or an orchestrator) can read."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any


@dataclasses.dataclass
class StepResult:
    """Rows in/out and seconds of one step run, plus step-specific details.

    Orchestrators log `str(result)`; the CLI renders a list of these as its summary table.
    """

    step: str
    since: dt.date | None = None
    until: dt.date | None = None
    rows_in: int = 0
    rows_out: int = 0
    seconds: float = 0.0
    details: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __str__(self) -> str:
        span = f" {self.since}..{self.until}" if self.since or self.until else ""
        extra = "".join(f", {k}={v}" for k, v in self.details.items())
        return (
            f"{self.step}{span}: {self.rows_in:,} rows in, {self.rows_out:,} rows out "
            f"in {self.seconds:.2f}s{extra}"
        )


@dataclasses.dataclass
class View:
    """What a domain's `show` command prints (`cli.render.print_view`): a table and its headlines."""

    title: str
    columns: list[str]
    """What the screen shows, most telling first; an export writes every column of `rows`."""
    rows: list[dict[str, Any]]
    headlines: list[str]
    empty: str | None = None
    """Said instead of a table when there are no rows (a fact, not a failure)."""
