"""`martops schedule cron`: the crontab lines, and each line run as cron would run it (/bin/sh,
`\\%` read as `%`, a bare PATH) doing what it says."""

from __future__ import annotations

import datetime as dt
import os
import shlex
import subprocess
import zoneinfo
from pathlib import Path

from martops.automation.commands import martops_executable
from martops.automation.crontab import job_line
from martops.automation.schedules import Schedule
from martops.engine import connect

from ..cli_runner import run_cli

CRON_ENV = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "SHELL": "/bin/sh"}
"""About what cron gives a job; PYTHONPATH is kept so the tests run this checkout's martops."""


def _as_cron_runs_it(line: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """The command part of a crontab line (after the 5 time fields), `\\%` unescaped, run by sh."""
    command = line.split(None, 5)[5].replace("\\%", "%")
    extra = {"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}
    return subprocess.run(["/bin/sh", "-c", command], env={**CRON_ENV, **extra, **(env or {})},
                          capture_output=True, text=True, timeout=300)


def test_the_crontab_has_a_zone_and_an_absolute_command_per_schedule(tmp_path, capsys):
    project = tmp_path / "my 100% project"
    project.mkdir()
    config = project / "martops.yml"
    config.write_text("sources: {campaigns: {path: exports}, attribution: {path: challenge.db}}\nschedules:\n"
                      "  - {name: nightly, cron: '0 6 * * *', select: [kpis, crm], timezone: Europe/Berlin}\n"
                      "  - {name: weekdays, cron: '*/30 8-18 * * 1-5', missed: run_once, range: previous_day}\n")
    out = run_cli(capsys, "schedule", "cron", "--config", config)
    assert out.code == 0, out.err
    exe = " ".join(map(shlex.quote, martops_executable()))
    assert Path(martops_executable()[0]).is_absolute()
    where = shlex.quote(str(project)).replace("%", "\\%")
    conf = shlex.quote(str(config)).replace("%", "\\%")
    assert out.out.splitlines()[4:] == [
        "# nightly: 0 6 * * * in Europe/Berlin, runs kpis crm, range new",
        "CRON_TZ=Europe/Berlin",
        f"0 6 * * * cd {where} && mkdir -p .martops/logs && {exe} run kpis crm --config {conf} "
        ">> .martops/logs/schedule-nightly.log 2>&1",
        "",
        "# weekdays: */30 8-18 * * 1-5 in UTC, runs the whole project, range previous_day",
        "# missed: run_once is not cron's: fires missed while the machine was off are not caught up",
        "CRON_TZ=UTC",
        f"*/30 8-18 * * 1-5 cd {where} && mkdir -p .martops/logs && d=$(TZ=UTC date -d '12:00 yesterday' +\\%F) "
        f"&& {exe} run --config {conf} --since \"$d\" --until \"$d\" >> .martops/logs/schedule-weekdays.log 2>&1",
    ]
    assert out.out.startswith(f"# martops schedules of {config} (martops schedule cron)")


def test_a_cron_line_runs_the_selection_from_the_project_folder(tmp_path, capsys):
    out = run_cli(capsys, "kpis", "generate", "--out", tmp_path / "exports", "--seed", "1", "--campaigns", "4",
                  "--days", "14", "--force")
    assert out.code == 0, out.err
    config = tmp_path / "martops.yml"
    config.write_text("sources: {campaigns: {path: exports}}\n"
                      "schedules:\n  - {name: nightly, cron: '0 6 * * *', select: [kpis]}\n")
    line = [x for x in run_cli(capsys, "schedule", "cron", "--config", config).out.splitlines()
            if x.startswith("0 6 * * * ")][0]
    done = _as_cron_runs_it(line)
    assert done.returncode == 0 and done.stdout == done.stderr == "", done
    log = (tmp_path / ".martops" / "logs" / "schedule-nightly.log").read_text()
    assert "kpis.mart" in log and "error:" not in log
    with connect(path=tmp_path / "warehouse.duckdb", create=False) as wh:  # relative paths: the project's
        steps = {r[0]: r[1] for r in wh.execute("SELECT step, status FROM ops.runs")}
        assert steps == {"kpis.load": "success", "kpis.snapshot": "success", "kpis.mart": "success"}
        assert wh.count("marts.campaign_kpis_daily") > 0


def test_previous_day_is_yesterday_in_the_schedules_zone_when_the_line_runs(tmp_path):
    config = tmp_path / "martops.yml"
    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago", "Europe/Berlin"):  # UTC+14, UTC-11: dates differ
        schedule = Schedule(name="daily", cron="0 6 * * *", timezone=zone, range="previous_day")
        line = job_line(schedule, config, executable=["echo"])  # the line as it is, with echo for martops
        done = _as_cron_runs_it(line)
        assert done.returncode == 0, done
        yesterday = dt.datetime.now(zoneinfo.ZoneInfo(zone)).date() - dt.timedelta(days=1)
        log = (tmp_path / ".martops" / "logs" / "schedule-daily.log").read_text().splitlines()
        assert log[-1] == f"run --config {config} --since {yesterday} --until {yesterday}"
