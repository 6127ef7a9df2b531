"""The stdlib bridge both adapters share: interval -> range, the graph and errors from the real CLI,
and that the adapter package imports none of martops' core (it must load in the orchestrators' venvs)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from zoneinfo import ZoneInfo

import pytest

from martops.automation.orchestration.martops_cli import MartopsError, Project, StepFailed, interval_to_range
from tests.automation.project import MARTOPS, REPO

UTC = dt.timezone.utc


def test_data_interval_is_since_start_until_end_minus_one_day():
    day = dt.datetime(2023, 9, 1, tzinfo=UTC)
    assert interval_to_range(day, day + dt.timedelta(days=1)) == (dt.date(2023, 9, 1), dt.date(2023, 9, 1))
    assert interval_to_range(day, day + dt.timedelta(days=7)) == (dt.date(2023, 9, 1), dt.date(2023, 9, 7))
    # a Berlin midnight is 22:00 UTC the day before: the days are read in the schedule's zone
    berlin = ZoneInfo("Europe/Berlin")
    start = dt.datetime(2023, 9, 1, tzinfo=berlin).astimezone(UTC)
    assert interval_to_range(start, start + dt.timedelta(days=1), berlin) == (dt.date(2023, 9, 1),) * 2
    assert interval_to_range(start, start + dt.timedelta(days=1)) == (dt.date(2023, 8, 31),) * 2
    # no interval or an empty one (a manual run): martops' default range
    assert interval_to_range(None, None) is None and interval_to_range(day, day) is None
    with pytest.raises(ValueError, match="holds no whole day"):
        interval_to_range(day, day + dt.timedelta(hours=1))


def test_the_adapter_package_imports_no_core_dependency():
    code = ("import sys, martops.automation.orchestration.martops_cli; "
            "heavy = [m for m in ('ibis', 'duckdb', 'pandas', 'pydantic', 'typer', 'rich', 'yaml', 'martops.config') "
            "if m in sys.modules]; print(heavy); sys.exit(1 if heavy else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr


def test_graph_selection_and_errors_come_from_the_real_cli(tmp_path):
    project = Project(bin=str(MARTOPS), cwd=str(tmp_path))
    steps = project.steps(["+attribution.report"])
    assert [s.name for s in steps] == ["attribution.ingest", "attribution.journeys", "attribution.attribute",
                                       "attribution.report"]
    assert steps[3].upstream == ("attribution.attribute", "attribution.ingest") and steps[3].ranged
    assert not project.steps(["kpis.load"])[0].ranged
    assert "marts.channel_reporting" in project.checked_tables()
    with pytest.raises(MartopsError, match="nosuch"):
        project.steps(["nosuch"])
    lines: list[str] = []
    with pytest.raises(StepFailed) as failed:
        project.run_step("attribution.ingest", dt.date(2023, 9, 1), dt.date(2023, 9, 2), log=lines.append)
    assert failed.value.returncode == 1 and failed.value.retryable
    assert str(failed.value) == ("martops step attribution.ingest failed (exit 1): error: attribution.ingest has no "
                                 "delivery: pass --db FILE or set sources.attribution.path in martops.yml")
    assert lines[0].endswith("run attribution.ingest --since 2023-09-01 --until 2023-09-02")
    assert not (tmp_path / "warehouse.duckdb").exists()
    with pytest.raises(MartopsError, match="cannot run martops"):
        Project(bin=str(tmp_path / "no-martops")).steps()
