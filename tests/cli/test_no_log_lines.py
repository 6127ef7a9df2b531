"""Without -v a successful run prints no log lines: warnings come after the command's output as
`warning: ...` lines. Run in a child process, as a user runs it (pytest would capture logging)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import martops
from tests.crm.folders import write_folder

SRC = str(Path(martops.__file__).resolve().parents[1])
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d\S* +(DEBUG|INFO|WARNING|ERROR|CRITICAL) ")


def _martops(*args, cwd):
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""), "COLUMNS": "120"}
    return subprocess.run([sys.executable, "-c", "from martops.cli import main; main()", *map(str, args)],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


def test_a_crm_build_whose_dedupe_warns_prints_the_warning_in_its_summary(tmp_path):
    folder = write_folder(tmp_path / "d")  # two customers: too few pairs to train Splink's m
    res = _martops("crm", "build", "--source", folder, "-w", tmp_path / "crm-warehouse.duckdb", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert not [line for line in (res.stderr + res.stdout).splitlines() if LOG_LINE.match(line)]
    assert res.stderr == ""
    last = res.stdout.strip().splitlines()[-1]
    assert last.startswith("warning: m was not trained for ") and "Splink's default m values are used" in last

    verbose = _martops("-v", "crm", "build", "--source", folder, "-w", tmp_path / "crm-warehouse.duckdb", cwd=tmp_path)
    assert verbose.returncode == 0 and any(LOG_LINE.match(line) for line in verbose.stderr.splitlines())


def test_a_warning_goes_to_stderr_when_stdout_is_csv(tmp_path):
    wh = tmp_path / "w.duckdb"
    folder = write_folder(tmp_path / "d")
    assert _martops("crm", "build", "--source", folder, "-w", wh, cwd=tmp_path).returncode == 0
    code = ("import logging, sys; from martops.cli import main, warehouse; "
            "real = warehouse._print\n"
            "def noisy(*a): logging.getLogger('martops.test').warning('a warning during the query'); real(*a)\n"
            "warehouse._print = noisy; main()")
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    res = subprocess.run([sys.executable, "-c", code, "sql", "SELECT 1 AS a", "--format", "csv", "-w", str(wh)],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert res.returncode == 0 and res.stdout == "a\n1\n"
    assert res.stderr == "warning: a warning during the query\n"
