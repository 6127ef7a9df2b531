"""The weekly report as the step `report.weekly`: after the steps writing the tables it reads, in a
bare `martops run` when martops.yml sets report.out, logged in ops.runs, blocked by a failing
check; and the demo project's weekly schedule for it."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from martops import domains
from martops.engine import connect
from martops.reports.period import iso_week_label
from tests.cli_runner import run_cli
from tests.conftest import REPO
from tests.reports.conftest import WEEK
from tests.reports.page import read


def test_the_step_runs_after_every_step_writing_what_the_sections_read():
    g = domains.graph()
    step = g.step("report.weekly")
    assert {"marts.channel_reporting", "marts.campaign_kpis_daily", "loyalty.purchases_daily",
            "marts.usage_customers", "marts.lead_scores"} <= set(step.inputs)
    assert {"attribution.report", "kpis.mart", "loyalty.reporting", "usage.marts", "leads.score",
            "crm.marts"} <= g.ancestors("report.weekly")
    assert g.select(["+report.weekly"])[-1] == "report.weekly" and step.ranged


def test_the_step_writes_report_out_for_the_range(capsys, demo_warehouse, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    wh = tmp_path / "wh.duckdb"
    shutil.copy(demo_warehouse, wh)
    (tmp_path / "martops.yml").write_text("report: {out: weekly.html}\n")
    res = run_cli(capsys, "run", "report", "--since", WEEK[0], "--until", WEEK[1], "--warehouse", wh)
    assert res.code == 0, res.err
    page = read((tmp_path / "weekly.html").read_text("utf-8"))
    assert page.sections == ["attribution", "campaigns", "loyalty", "health"]
    with connect(path=wh, read_only=True) as w:
        (status, since, until, rows_out), = w.execute(
            "SELECT status, since, until, rows_out FROM ops.runs WHERE step = 'report.weekly'")
    assert (status, str(since), str(until), rows_out) == ("success", *WEEK, 2)  # sections with data: loyalty has none then


def test_without_a_range_the_step_covers_the_last_complete_iso_week(capsys, demo_warehouse, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    wh = tmp_path / "wh.duckdb"
    shutil.copy(demo_warehouse, wh)
    (tmp_path / "martops.yml").write_text("report: {out: weekly.html}\n")
    assert run_cli(capsys, "run", "report.weekly", "--warehouse", wh).code == 0
    with connect(path=wh, read_only=True) as w:
        newest = max(w.execute("SELECT max(date) FROM marts.channel_reporting")[0][0],
                     w.execute("SELECT max(date) FROM marts.campaign_kpis_daily")[0][0],
                     w.execute("SELECT max(period_start) FROM loyalty.purchases_daily")[0][0])
    sunday = newest - dt.timedelta(days=newest.isoweekday() % 7)
    html = (tmp_path / "weekly.html").read_text("utf-8")
    assert f"{iso_week_label(sunday)} ({sunday - dt.timedelta(days=6)} to {sunday})" in html


def test_a_failing_check_fails_the_step_and_keeps_the_last_report(capsys, demo_warehouse, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    wh = tmp_path / "wh.duckdb"
    shutil.copy(demo_warehouse, wh)
    (tmp_path / "weekly.html").write_text('<html><head><meta name="generator" content="martops report"></head></html>')
    before = (tmp_path / "weekly.html").read_bytes()
    (tmp_path / "martops.yml").write_text("report: {out: weekly.html}\n"
                                          "checks:\n  staging.sessions:\n    - row_count: {min: 100000000}\n")
    res = run_cli(capsys, "run", "report.weekly", "--since", WEEK[0], "--until", WEEK[1], "--warehouse", wh)
    assert res.code == 1 and "report not published: 1 error check(s) failed" in " ".join(res.err.split())
    assert (tmp_path / "weekly.html").read_bytes() == before


def test_without_report_out_the_step_named_alone_is_an_error(capsys, demo_warehouse, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "martops.yml").write_text("{}\n")
    res = run_cli(capsys, "run", "report.weekly", "--warehouse", demo_warehouse, "--since",
                  WEEK[0], "--until", WEEK[1])
    assert res.code == 1 and "report.out is not set in martops.yml" in " ".join(res.err.split())


def test_report_settings_are_checked(capsys, tmp_path):
    for yml, expected in [("report: {out: weekly.pdf}\n", "report.out: the report is an HTML page"),
                          ("report: {pdf: weekly.html}\n", "report.pdf: name the file .pdf"),
                          ("report: {outt: weekly.html}\n", "report.outt: Extra inputs are not permitted"),
                          ("report: {chromium_timeout_seconds: 0}\n", "report.chromium_timeout_seconds: Input should be greater than 0")]:
        (tmp_path / "martops.yml").write_text(yml)
        res = run_cli(capsys, "schedule", "list", "--config", tmp_path / "martops.yml")
        assert res.code == 1 and expected in " ".join(res.err.split()), (yml, res.err)


def test_the_demo_project_schedules_the_report_every_monday(capsys):
    project = REPO / "src" / "martops" / "demo" / "project.yml"
    res = run_cli(capsys, "schedule", "list", "--config", project, "--count", "2", "--after", "2023-09-06T12:00")
    assert res.code == 0, res.err
    out = " ".join(res.out.split())
    assert "weekly-report: cron '0 7 * * 1' in Europe/Berlin; runs report" in out
    assert "2023-09-11 07:00 CEST 2023-09-11 05:00 UTC 2023-09-18 07:00 CEST" in out
    assert Path(project).read_text().count("out: weekly-report.html") == 1


@pytest.mark.parametrize("report, expected", [
    ("{out: missing/weekly.html}", "report.out missing/weekly.html: folder missing does not exist"),
    ("{out: weekly.html, pdf: missing/weekly.pdf}", "report.pdf missing/weekly.pdf: folder missing does not exist"),
    ("{out: notes.html}", "report.out notes.html exists and is not a martops report; point it elsewhere"),
    ("{out: weekly.html, folder: missing}", "report.folder missing: does not exist; create it first"),
])
def test_the_steps_check_their_files_and_folders_before_building(capsys, tmp_path, monkeypatch, report, expected):
    """On a warehouse with nothing to report, building would fail ("no domain has built its tables"):
    the error naming the key shows the check came first."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.html").write_text("<p>someone's notes</p>")
    wh = tmp_path / "empty.duckdb"
    connect(path=wh, create=True).close()
    (tmp_path / "martops.yml").write_text(f"report: {report}\n")
    res = run_cli(capsys, "run", "report", "--since", WEEK[0], "--until", WEEK[1], "--warehouse", wh)
    err = " ".join(res.err.split())
    assert res.code == 1 and expected in err and "no domain has built" not in err, res.err
    assert "Traceback" not in res.err and len(res.err.strip().splitlines()) == 1
    assert not (tmp_path / "weekly.html").exists()


def test_the_step_checks_its_file_itself_when_no_preflight_ran(tmp_path):
    """An orchestrator calling the step through the runner (the preflight already done, or skipped)
    still learns of a missing folder before a report is built."""
    from martops.config import ProjectConfig
    from martops.domain import StepContext

    cfg = ProjectConfig.model_validate({"report": {"out": str(tmp_path / "missing" / "weekly.html")}})
    with connect(path=tmp_path / "empty.duckdb", create=True) as wh:
        ctx = StepContext(wh, cfg, dt.date.fromisoformat(WEEK[0]), dt.date.fromisoformat(WEEK[1]))
        report = domains.run(ctx, ["report.weekly"], checked=True)
    outcome, = report.outcomes
    assert outcome.status == "failed" and outcome.reason.startswith("report.out ") and "folder" in outcome.reason
