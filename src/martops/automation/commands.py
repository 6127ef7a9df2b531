"""The `martops run` command line a schedule's fire runs, for cron and for `schedule serve` alike."""

from __future__ import annotations

import datetime as dt
import os
import sys
import zoneinfo
from pathlib import Path

from martops.automation.schedules import Schedule

LOG_FOLDER = Path(".martops") / "logs"
"""Where a scheduled run's output goes, beside the project file (as the CLI's crash logs)."""


def log_file(schedule: Schedule) -> Path:
    """`.martops/logs/schedule-<name>.log`, relative to the project folder."""
    return LOG_FOLDER / f"schedule-{schedule.name}.log"


def martops_executable() -> list[str]:
    """The command that starts this martops: the `martops` script beside the running Python (a
    venv's bin/), else `<python> -m martops`. Absolute, so cron's bare PATH finds it. The Python
    path is not resolved: a venv's python is a link whose target would lose the venv."""
    python = Path(os.path.abspath(sys.executable))
    script = python.parent / "martops"
    return [str(script)] if script.is_file() and os.access(script, os.X_OK) else [str(python), "-m", "martops"]


def run_argv(schedule: Schedule, config: Path, *, executable: list[str], warehouse: Path | None = None,
             since: dt.date | None = None, until: dt.date | None = None) -> list[str]:
    """`<executable> run <selectors> --config <config> [--warehouse W] [--since D --until D]`."""
    argv = [*executable, "run", *schedule.select, "--config", str(config)]
    if warehouse is not None:
        argv += ["--warehouse", str(warehouse)]
    if since is not None and until is not None:
        argv += ["--since", since.isoformat(), "--until", until.isoformat()]
    return argv


def date_range(schedule: Schedule, fires: list[dt.datetime]) -> tuple[dt.date | None, dt.date | None]:
    """The --since/--until a run covering `fires` (oldest first, at least one) gets.

    `range: new` gives (None, None): no flags. `range: previous_day` gives the day before the first
    fire through the day before the last one, dates in the schedule's time zone: one fire at
    2024-06-02 06:00 Europe/Berlin gives 2024-06-01..2024-06-01; a catch-up of the fires of June 2,
    3 and 4 gives 2024-06-01..2024-06-03, so no day is left out.
    """
    if schedule.range == "new":
        return None, None
    zone = zoneinfo.ZoneInfo(schedule.timezone)
    day = dt.timedelta(days=1)
    return fires[0].astimezone(zone).date() - day, fires[-1].astimezone(zone).date() - day
