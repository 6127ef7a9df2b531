"""`martops schedule list|cron|serve`: the schedules martops.yml declares, shown, as crontab lines,
or fired in this process (see martops.automation)."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Optional

import typer

from martops import domains
from martops.automation.commands import martops_executable
from martops.automation.crontab import crontab
from martops.automation.schedules import Schedule
from martops.cli import platform
from martops.cli.common import CONFIG, parse_moment
from martops.config import DEFAULT_PROJECT_FILE, ProjectConfig, load_config
from martops.errors import ConfigError

schedule_app = typer.Typer(
    help="Schedules from martops.yml: next fire times, crontab lines, or an in-process scheduler.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _project(config: Optional[Path]) -> tuple[Path, ProjectConfig, list[Schedule]]:
    """The project file (absolute), its settings and its schedules; no file or no schedule is an error."""
    path = (config or Path(DEFAULT_PROJECT_FILE)).absolute()
    if config is None and not path.exists():
        raise ConfigError(f"no project file {path}: schedules are declared in martops.yml; give --config FILE")
    cfg = load_config(path)
    if not cfg.schedules:
        raise ConfigError(f"{path} declares no schedules: add a `schedules:` list, e.g. "
                          "[{name: nightly, cron: '0 6 * * *'}] (see the README's Schedules section)")
    for s in cfg.schedules:  # a typo in a selector fails now, not at 06:00
        try:
            names = platform.selection(cfg, s.select, [], [], None)
            if s.range == "previous_day" and not any(domains.graph().step(n).ranged for n in names):
                raise ConfigError(f"range: previous_day passes --since/--until, which none of its steps takes "
                                  f"({', '.join(names)} load their whole delivery); use range: new")
        except ConfigError as exc:
            raise ConfigError(f"{path}: schedule {s.name!r}: {exc}") from None
    return path, cfg, cfg.schedules


def _fire(t: dt.datetime) -> str:
    return f"{t:%Y-%m-%d %H:%M %Z}".ljust(24) + f"{t.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M} UTC"


@schedule_app.command("list")
def list_(
    count: int = typer.Option(5, "--count", "-n", min=1, max=1000, help="Fire times to show per schedule."),
    after: Optional[str] = typer.Option(None, "--after", help="Show fires after this moment (ISO 8601; without "
                                        "an offset it is UTC); default: now."),
    config: Optional[Path] = CONFIG,
) -> None:
    """Each schedule with its selection and its next fire times, in its time zone and in UTC.

    Example:

      martops schedule list --count 3
    """
    from martops.automation.firetimes import FireTimes  # croniter and APScheduler load for schedule commands only

    _, _, schedules = _project(config)
    moment = parse_moment(after, "--after")
    for i, s in enumerate(schedules):
        if i:
            typer.echo("")
        typer.echo(f"{s.name}: cron '{s.cron}' in {s.timezone}; runs {' '.join(s.select) or 'the whole project'}; "
                   f"range {s.range}; missed fires: {s.missed}")
        fires = FireTimes.of(s)
        for t in fires.upcoming(moment, count):
            typer.echo(f"  {_fire(fires.local(t))}")


@schedule_app.command()
def cron(config: Optional[Path] = CONFIG) -> None:
    """Print the schedules as crontab lines (absolute paths, CRON_TZ per schedule, output appended
    to .martops/logs/schedule-<name>.log in the project folder), for `crontab -e`.

    Example:

      martops schedule cron --config /srv/marketing/martops.yml
    """
    path, _, schedules = _project(config)
    typer.echo(crontab(schedules, path, executable=martops_executable()), nl=False)


@schedule_app.command()
def serve(
    max_runs: Optional[int] = typer.Option(None, "--max-runs", min=1, help="Stop after this many runs ended "
                                           "(a smoke test, a one-off catch-up); exit 1 if one failed."),
    config: Optional[Path] = CONFIG,
) -> None:
    """Run the schedules in this process until Ctrl-C: each fire runs `martops run <selection>` as a
    child process and is recorded in ops.runs as step schedule.<name>. A schedule never overlaps
    itself; missed fires are skipped or run once, as each schedule's `missed` says.

    Example:

      martops schedule serve --config martops.yml
    """
    from martops.automation.serve import ScheduleServer, serve as run_server

    path, cfg, schedules = _project(config)
    lock = threading.Lock()

    def say(line: str) -> None:
        with lock:
            typer.echo(f"{dt.datetime.now():%Y-%m-%d %H:%M:%S} {line}")

    server = ScheduleServer(schedules, path, cfg.warehouse, say=say, max_runs=max_runs)
    say(f"serving {len(schedules)} schedule(s) of {path}; Ctrl-C stops")
    run_server(server)
    say(f"stopped after {server.runs} run(s), {server.failed} failed")
    if server.failed:
        raise typer.Exit(1)
