"""`schedules:` in martops.yml: what loads, and the error a person gets for each mistake (through
the CLI, exit 1, naming the file, the schedule and the field; nothing written)."""

from __future__ import annotations

from pathlib import Path

import pytest

from martops.config import load_config

from ..cli_runner import run_cli

GOOD = """\
sources:
  campaigns: {path: exports}
schedules:
  - name: nightly
    cron: "0 6 * * *"
    select: kpis crm
    timezone: Europe/Berlin
    missed: run_once
    range: previous_day
  - name: hourly
    cron: "15 * * * mon-fri"
"""


def test_a_schedule_loads_with_its_defaults(tmp_path):
    path = tmp_path / "martops.yml"
    path.write_text(GOOD)
    nightly, hourly = load_config(path).schedules
    assert (nightly.name, nightly.cron, nightly.select, nightly.timezone, nightly.missed, nightly.range) == (
        "nightly", "0 6 * * *", ["kpis", "crm"], "Europe/Berlin", "run_once", "previous_day")
    assert (hourly.select, hourly.timezone, hourly.missed, hourly.range) == ([], "UTC", "skip", "new")
    assert load_config(None).schedules == []


def _schedule(**fields) -> str:
    body = {"name": "nightly", "cron": "'0 6 * * *'", **fields}
    return "schedules:\n  - {" + ", ".join(f"{k}: {v}" for k, v in body.items()) + "}\n"


@pytest.mark.parametrize("fields, said", [
    ({"cron": "'0 25 * * *'"}, "schedules.0: schedule 'nightly': cron field 2 (hour) must be 0-23, "
                               "got '25' in '0 25 * * *'"),
    ({"cron": "'0 9 * * 8'"}, "schedule 'nightly': cron field 5 (day of week) must be 0-7 or sun-sat; 0 and 7 are "
                              "Sunday, got '8' in '0 9 * * 8'"),
    ({"cron": "'61 * * * *'"}, "schedule 'nightly': cron field 1 (minute) must be 0-59, got '61'"),
    ({"cron": "'0 6 * *'"}, "schedule 'nightly': cron must have 5 fields (minute hour day-of-month month "
                            "day-of-week), got 4 in '0 6 * *'"),
    ({"cron": "'@daily'"}, "schedule 'nightly': cron must have 5 fields"),
    ({"cron": "'0 6 * * * 30'"}, "schedule 'nightly': cron must have 5 fields (minute hour day-of-month month "
                                 "day-of-week), got 6"),
    ({"cron": "'0 6 31 2 *'"}, "schedule 'nightly': cron never fires (no date matches day of month '31' in month "
                               "'2'), got '0 6 31 2 *'"),
    ({"timezone": "Europe/Berln"}, "schedule 'nightly': timezone must be an IANA time zone name (UTC, "
                                   "Europe/Berlin, America/New_York), got 'Europe/Berln'"),
    ({"missed": "never"}, "schedules.0.missed: Input should be 'skip' or 'run_once' (got 'never')"),
    ({"range": "yesterday"}, "schedules.0.range: Input should be 'new' or 'previous_day' (got 'yesterday')"),
    ({"name": "'night ly'"}, "schedule name must be letters, digits, '_' and '-' (not first), got 'night ly'"),
    ({"select": "[kpis, --exclude]"}, "schedule 'nightly': select takes selectors as `martops run` does"),
    ({"select": "[]"}, "schedules.0: schedule 'nightly': select is empty; leave select out to run the whole "
                       "project, or name selectors as `martops run` takes them"),
    ({"select": "''"}, "schedules.0: schedule 'nightly': select is empty; leave select out"),
    ({"select": ""}, "schedules.0: schedule 'nightly': select is empty; leave select out"),
    ({"every": "day"}, "schedules.0.every: Extra inputs are not permitted"),
])
def test_each_mistake_is_an_error_naming_the_file_schedule_and_field(tmp_path, capsys, fields, said):
    path = tmp_path / "martops.yml"
    path.write_text(_schedule(**fields))
    for command in ("list", "cron", "serve"):
        out = run_cli(capsys, "schedule", command, "--config", path)
        assert out.code == 1, (command, out)
        assert out.err.startswith(f"error: {path}: invalid project file: "), out.err
        assert out.err.count("\n") == 1, out.err  # one line
        assert said in out.err and "Traceback" not in out.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["martops.yml"]  # nothing written


def test_two_schedules_with_one_name_are_an_error(tmp_path, capsys):
    path = tmp_path / "martops.yml"
    path.write_text("schedules:\n  - {name: a, cron: '0 6 * * *'}\n  - {name: b, cron: '0 7 * * *'}\n"
                    "  - {name: a, cron: '0 8 * * *'}\n")
    out = run_cli(capsys, "schedule", "list", "--config", path)
    assert out.code == 1 and "schedule names must be unique, got 'a' more than once" in out.err


@pytest.mark.parametrize("yml, said", [
    ("schedules:\n  - {name: n, cron: '0 6 * * *', select: [kpi]}\n",
     "schedule 'n': selector 'kpi' matches no domain, step or table (did you mean kpis?)"),
    ("schedules:\n  - {name: n, cron: '0 6 * * *'}\n",  # the whole project, but no source declared
     "schedule 'n': nothing to run: martops.yml declares no source"),
    ("schedules: []\n", "declares no schedules: add a `schedules:` list"),
    ("sources: {campaigns: {path: x}}\nschedules:\n  - {name: n, cron: '0 6 * * *', select: [kpis], range: previous_day}\n",
     "schedule 'n': range: previous_day passes --since/--until, which none of its steps takes"),
    ("warehouse: {path: w.duckdb}\n", "declares no schedules: add a `schedules:` list"),
])
def test_a_selection_martops_run_would_refuse_or_no_schedule_fails_every_schedule_command(tmp_path, capsys, yml, said):
    path = tmp_path / "martops.yml"
    path.write_text(yml)
    for command in ("list", "cron", "serve"):
        out = run_cli(capsys, "schedule", command, "--config", path)
        assert out.code == 1 and out.err.count("\n") == 1, (command, out)
        assert out.err.startswith("error: ") and said in out.err, out.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["martops.yml"]


@pytest.mark.parametrize("select", ["[]", "''", ""])
def test_an_empty_select_is_an_error_not_the_whole_project(tmp_path, capsys, select):
    path = tmp_path / "martops.yml"
    path.write_text("sources: {campaigns: {path: x}}\n"  # a project whose whole would run
                    f"schedules:\n  - {{name: n, cron: '0 6 * * *', select: {select}}}\n")
    for command in ("list", "cron", "serve"):
        out = run_cli(capsys, "schedule", command, "--config", path)
        assert out.code == 1 and out.err.count("\n") == 1 and "whole project" not in out.out, (command, out)
        assert out.err.startswith(f"error: {path}: invalid project file: schedules.0: schedule 'n': select is "
                                  "empty; leave select out to run the whole project"), out.err
    path.write_text("sources: {campaigns: {path: x}}\nschedules:\n  - {name: n, cron: '0 6 * * *'}\n")
    out = run_cli(capsys, "schedule", "list", "--config", path, "--count", "1")
    assert out.code == 0 and "runs the whole project" in out.out, out


def test_without_a_project_file_the_error_says_to_give_one(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = run_cli(capsys, "schedule", "serve")
    assert out.code == 1
    assert out.err == f"error: no project file {tmp_path / 'martops.yml'}: schedules are declared in martops.yml; " \
                      "give --config FILE\n"
    out = run_cli(capsys, "schedule", "list", "--after", "tomorrow", "--config", tmp_path / "none.yml")
    assert out.code == 1 and "does not exist" in out.err


def test_a_bad_after_is_one_line(tmp_path, capsys):
    path = tmp_path / "martops.yml"
    path.write_text("sources: {campaigns: {path: x}}\nschedules:\n  - {name: n, cron: '0 6 * * *'}\n")
    out = run_cli(capsys, "schedule", "list", "--config", path, "--after", "tomorrow")
    assert out.code == 1
    assert out.err == ("error: --after 'tomorrow' is not a date and time; use ISO 8601, e.g. 2024-03-30T12:00 "
                       "(UTC) or 2024-03-30T12:00+01:00\n")


def test_the_readme_example_loads_and_lists(tmp_path, capsys):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Schedules (`martops schedule`)", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "martops.yml"
    path.write_text(example)
    out = run_cli(capsys, "schedule", "list", "--config", path, "--count", "3", "--after", "2024-10-26T12:00")
    assert out.code == 0, out.err
    assert out.out.splitlines() == [
        "nightly: cron '0 6 * * *' in Europe/Berlin; runs kpis; range new; missed fires: skip",
        "  2024-10-27 06:00 CET    2024-10-27 05:00 UTC",
        "  2024-10-28 06:00 CET    2024-10-28 05:00 UTC",
        "  2024-10-29 06:00 CET    2024-10-29 05:00 UTC",
    ]
