"""The README's command examples, as a newcomer types them.

Every `martops ...` line in a ```sh block must parse against the real CLI (every command and
option exists, every value has the right type), and the walkthroughs run for real, section by
section, in a fresh folder: what the README shows is what martops does. A command the README shows
that cannot run here is listed in SKIPPED with the test that covers it instead.
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
import typer
from typer._click import core as click_core  # typer 0.29 vendors click
from typer._click.exceptions import UsageError

from martops.cli.app import app

from .cli_runner import run_cli
from .conftest import DATASETS, REPO
from .crm.folders import write_folder

README = (REPO / "README.md").read_text(encoding="utf-8")

SKIPPED = {
    "--model ihc_api": "calls the IHC API (tests/attribution/ihc_api run it against a local server)",
    "attribution ihc-fit": "needs the IHC API's answers (tests/attribution/test_ihc_fit.py runs it on the real ones)",
    "schedule serve": "runs until Ctrl-C (tests/automation/test_schedules_serve.py fires a job and logs it)",
    "--help": "prints help only (parsed by test_every_readme_command_parses)",
    "workflows run --now": "sends e-mail (tests/workflows/test_onboarding.py runs it against aiosmtpd and an HTTP receiver)",
    "workflows history": "needs a real run (tests/workflows/test_failures.py)",
    "workflows retry": "needs a parked entity (tests/workflows/test_failures.py)",
}
if not (DATASETS / "markov-paths").is_dir():  # the real path file: tests/attribution/test_markov.py skips too
    SKIPPED["markov-paths/PathData.csv"] = "needs ../shared/datasets/markov-paths"


def sections() -> dict[str, str]:
    """The README's `## ` sections by title (each with its `###` subsections)."""
    parts = re.split(r"^## ", README, flags=re.M)[1:]
    return {p.split("\n", 1)[0].strip(): p for p in parts}


def commands(text: str) -> list[str]:
    """The `martops ...` command lines of the ```sh blocks in `text`, continuations joined,
    comments and `[optional]` parts left out."""
    out = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            line = re.sub(r"\s*\[[^\]]*\]", "", line)
            if line.startswith("martops "):
                out.append(" ".join(line.split()))
    return out


def first_yaml(text: str) -> str:
    return re.findall(r"```yaml\n(.*?)```", text, flags=re.S)[0]


def argv(line: str) -> list[str]:
    """A README line as arguments; `../shared/datasets` is where the datasets are from this checkout."""
    return [a.replace("../shared/datasets", str(DATASETS)) for a in shlex.split(line)[1:]]


EVERY = [c for body in sections().values() for c in commands(body)]


def test_the_readme_shows_commands():
    assert len(EVERY) >= 30 and any(c.startswith("martops run") for c in EVERY)


@pytest.mark.parametrize("line", EVERY)
def test_every_readme_command_parses(line):
    """Command, subcommand and options exist and the values convert, without running anything."""
    group = typer.main.get_command(app)
    args = shlex.split(line)[1:]
    ctx = click_core.Context(group, info_name="martops")
    cmd = group
    while hasattr(cmd, "get_command") and args and not args[0].startswith("-"):
        sub = cmd.get_command(ctx, args[0])
        assert sub is not None, f"{line}: no command {args[0]!r}"
        ctx = click_core.Context(sub, info_name=args[0], parent=ctx)
        cmd, args = sub, args[1:]
    if "--help" in args:
        return
    try:
        cmd.make_context(ctx.info_name, list(args), parent=ctx.parent)
    except UsageError as exc:
        pytest.fail(f"{line}: {exc.format_message()}")


def run_section(capsys, title: str, folder: Path) -> list[str]:
    """Runs a section's commands in order in `folder`; returns the lines run."""
    ran = []
    for line in commands(sections()[title]):
        if any(key in line for key in SKIPPED):
            continue
        res = run_cli(capsys, *argv(line))
        assert res.code == 0, f"README line failed: {line}\n{res.err or res.out}"
        ran.append(line)
    return ran


@pytest.fixture
def newcomer(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.slow
def test_usage_walkthrough_runs_as_written(capsys, newcomer):
    ran = run_section(capsys, "Usage", newcomer)
    assert any(r.startswith("martops attribution run") for r in ran) and "martops status" in ran
    assert (newcomer / "out" / "channel_reporting.csv").exists()


@pytest.mark.slow
def test_campaign_walkthrough_runs_as_written(capsys, newcomer):
    if not (DATASETS / "poslite-campaigns").is_dir():
        pytest.skip(f"the real campaign exports are not at {DATASETS / 'poslite-campaigns'}")
    ran = run_section(capsys, "Campaign KPI mart (`martops kpis`)", newcomer)
    assert any(r.startswith("martops kpis build") for r in ran) and (newcomer / "weekly.parquet").exists()


@pytest.mark.slow
def test_crm_walkthrough_runs_as_written(capsys, newcomer):
    if not (DATASETS / "crm").is_dir():
        pytest.skip(f"the real CRM extract is not at {DATASETS / 'crm'}")
    ran = run_section(capsys, "CRM foundation (`martops crm`)", newcomer)
    assert any("crm dedupe --input people.csv" in r for r in ran)
    assert (newcomer / "clusters.csv").exists() and (newcomer / "customer_value.csv").exists()


@pytest.mark.slow
def test_loyalty_walkthrough_runs_as_written(capsys, newcomer):
    if not (DATASETS / "loyalty").is_dir():
        pytest.skip(f"the real loyalty files are not at {DATASETS / 'loyalty'}")
    ran = run_section(capsys, "Loyalty programme (`martops loyalty`)", newcomer)
    assert any(r.startswith("martops loyalty show programme") for r in ran) and (newcomer / "segments.csv").exists()


@pytest.mark.slow
def test_platform_walkthrough_runs_as_written(capsys, newcomer):
    """The project martops.yml the README shows, with every delivery it names, then its commands."""
    (newcomer / "martops.yml").write_text(first_yaml(sections()["The platform: one step graph"]))
    assert run_cli(capsys, "attribution", "generate", "--out", "challenge.db", "--conversions", "300").code == 0
    assert run_cli(capsys, "kpis", "generate", "--out", "campaign-exports").code == 0
    shutil.copytree("campaign-exports", "exports")
    write_folder(newcomer / "crm-extract")
    ran = run_section(capsys, "The platform: one step graph", newcomer)
    assert "martops run" in ran and (newcomer / "out" / "channel_reporting.csv").exists()


def test_schedule_walkthrough_runs_as_written(capsys, newcomer):
    (newcomer / "martops.yml").write_text(first_yaml(sections()["Schedules (`martops schedule`)"]))
    (newcomer / "exports").mkdir()
    ran = run_section(capsys, "Schedules (`martops schedule`)", newcomer)
    assert ran == ["martops schedule list --count 3", "martops schedule cron"]


def test_workflows_walkthrough_runs_as_written(capsys, newcomer):
    """The Workflows section's project file (its template file written beside it) and its commands:
    the dry run renders the welcome and the sales message of the last day's signups."""
    (newcomer / "martops.yml").write_text(first_yaml(sections()["Workflows (`martops workflows`)"]))
    (newcomer / "tips.txt").write_text("Hi {{ name }}, three things to try: ...\n")
    ran = run_section(capsys, "Workflows (`martops workflows`)", newcomer)
    assert ran == ["martops usage generate --out usage.db --users 2000 --seed 7",
                   "martops usage build --source usage.db",
                   "martops workflows run --dry-run --now 2024-12-31T09:00", "martops workflows status"]
    out = run_cli(capsys, "workflows", "run", "--dry-run", "--now", "2024-12-31T09:00")
    assert out.code == 0 and out.out.count("would send:") >= 3 and "Subject: Welcome, " in out.out
    assert '"text": "New signup: ' in out.out and not (newcomer / ".martops").exists()
