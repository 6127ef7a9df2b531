"""`martops schedule cron`: the schedules as crontab lines, for a machine that runs cron instead of
`martops schedule serve`.

Each schedule becomes a comment, a `CRON_TZ=<zone>` line and the job line:

    0 6 * * * cd /srv/proj && mkdir -p .martops/logs && /srv/proj/.venv/bin/martops run kpis crm \
        --config /srv/proj/martops.yml >> .martops/logs/schedule-nightly.log 2>&1

Paths are absolute and shell-quoted (cron's PATH is bare), and `%` is escaped as `\\%` (cron reads
a bare `%` as a line break). `range: previous_day` computes yesterday when the job runs, with GNU
`date` in the schedule's zone. Cron logs nothing in ops.runs and never catches up missed fires:
the steps of each run are still in ops.runs.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from martops.automation.commands import LOG_FOLDER, log_file, run_argv
from martops.automation.schedules import Schedule


def _shell(argv: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in argv)


def job_line(schedule: Schedule, config: Path, *, executable: list[str], warehouse: Path | None = None) -> str:
    """The crontab line of one schedule (`config` and `warehouse` absolute)."""
    command = _shell(run_argv(schedule, config, executable=executable, warehouse=warehouse))
    if schedule.range == "previous_day":
        yesterday = f"TZ={shlex.quote(schedule.timezone)} date -d '12:00 yesterday' +%F"  # noon: right on DST days
        command = f'd=$({yesterday}) && {command} --since "$d" --until "$d"'
    line = (f"cd {shlex.quote(str(config.parent))} && mkdir -p {LOG_FOLDER} && {command} "
            f">> {shlex.quote(str(log_file(schedule)))} 2>&1")
    return f"{schedule.cron} {line.replace('%', chr(92) + '%')}"


def crontab(schedules: list[Schedule], config: Path, *, executable: list[str], warehouse: Path | None = None) -> str:
    """The whole snippet for `crontab -e`: a header, then comment, CRON_TZ and job line per schedule."""
    lines = [
        f"# martops schedules of {config} (martops schedule cron); output goes to {config.parent / LOG_FOLDER}",
        "# CRON_TZ sets the time zone of the lines after it: cronie (Fedora, RHEL, Arch) and systemd-cron",
        "# honour it; Debian's and Ubuntu's cron ignore it and fire in the system's time zone.",
    ]
    for s in schedules:
        what = " ".join(s.select) or "the whole project"
        lines += ["", f"# {s.name}: {s.cron} in {s.timezone}, runs {what}, range {s.range}"]
        if s.missed == "run_once":
            lines.append("# missed: run_once is not cron's: fires missed while the machine was off are not caught up")
        lines += [f"CRON_TZ={s.timezone}", job_line(s, config, executable=executable, warehouse=warehouse)]
    return "\n".join(lines) + "\n"
