"""The martops command line as an orchestrator sees it: the step graph as data, one step as a process.

Airflow and Dagster pin their own sqlalchemy, pydantic and friends, which conflict with martops'
core pins, so they live in their own virtualenvs (`make airflow-env`, `make dagster-env`) and
drive martops only through its CLI. This module is that bridge and imports nothing but the
standard library, so it loads in either orchestrator's interpreter with `src/` on PYTHONPATH.

- `Project` names what a run needs: the martops executable, the project file, the warehouse
  and the working directory (relative paths in martops.yml resolve from there).
- `Project.steps(select)` reads `martops steps [SELECTOR ...] --format json` (martops' own
  selector grammar: `kpis`, `kpis.load+`, `+marts.channel_reporting`): `Step`s in run order.
- `Project.run_step()` runs `martops run <step> [--since D --until D] ...` and raises
  `StepFailed` carrying martops' one-line error (the last line it wrote to stderr).
- `Project.checked_tables()` and `Project.check()` read `martops check --list` and run
  `martops check --select TABLE --format json`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence

ENV_BIN = "MARTOPS_BIN"
"""Environment variable naming the martops executable of the core venv."""

REPO = Path(__file__).resolve().parents[4]
"""The checkout this file sits in (src/martops/automation/orchestration/ -> four levels up)."""

BAD_COMMAND_LINE = 2
"""martops' exit code for a command line it rejects: retrying cannot help."""


class MartopsError(RuntimeError):
    """martops could not be found or answered something this adapter cannot read."""


class StepFailed(RuntimeError):
    """A `martops run` process exited non-zero.

    `str(exc)` is martops' one-line error; `returncode` its exit code (1 = the step failed,
    2 = the command line was rejected); `stdout`/`stderr` the full output for the log.
    """

    def __init__(self, step: str, returncode: int, message: str, stdout: str, stderr: str) -> None:
        super().__init__(f"martops step {step} failed (exit {returncode}): {message}")
        self.step, self.returncode, self.message = step, returncode, message
        self.stdout, self.stderr = stdout, stderr

    @property
    def retryable(self) -> bool:
        return self.returncode != BAD_COMMAND_LINE


@dataclasses.dataclass(frozen=True)
class Step:
    """One node of `martops steps --format json`.

    `inputs` are warehouse tables (`schema.table`) or `source:<domain>`; `outputs` the tables the
    step writes, or `file:<what>` outside the warehouse; `upstream` the step names it depends on
    (within the selection); `ranged` whether it takes --since/--until; `parameters` its flags.
    """

    name: str
    domain: str
    description: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    upstream: tuple[str, ...]
    ranged: bool
    parameters: dict

    @classmethod
    def from_json(cls, row: dict) -> "Step":
        try:
            return cls(name=row["name"], domain=row["domain"], description=row.get("description") or "",
                       inputs=tuple(row.get("inputs") or ()), outputs=tuple(row.get("outputs") or ()),
                       upstream=tuple(row.get("upstream") or ()), ranged=bool(row.get("ranged", True)),
                       parameters=dict(row.get("parameters") or {}))
        except (KeyError, TypeError) as exc:
            raise MartopsError(f"`martops steps --format json` gave a step without {exc}: {row!r}") from None


def default_bin() -> str:
    """The martops executable: $MARTOPS_BIN, else the checkout's .venv/bin/martops, else `martops` on PATH."""
    named = os.environ.get(ENV_BIN)
    if named:
        return named
    beside = REPO / ".venv" / "bin" / "martops"
    if beside.exists():
        return str(beside)
    found = shutil.which("martops")
    if found:
        return found
    raise MartopsError(f"no martops executable: set {ENV_BIN} to the core venv's martops "
                       f"(e.g. {beside}, made by `make setup`)")


def interval_to_range(start: Optional[dt.datetime], end: Optional[dt.datetime],
                      tz: Optional[dt.tzinfo] = None) -> Optional[tuple[dt.date, dt.date]]:
    """An orchestrator's data interval [start, end) as martops' inclusive day range (since, until).

    since = the start's date, until = the end's date minus one day, both read in `tz` (the
    schedule's time zone; the datetimes' own when None), so a daily interval
    [2023-09-01 00:00, 2023-09-02 00:00) is --since 2023-09-01 --until 2023-09-01.
    No interval, or an empty one (start == end: a manual run, a trigger-style schedule), gives
    None: run with no range, i.e. martops' default, the data's new range.
    Raises ValueError for an interval that holds no whole day (shorter than a day, or backwards).
    """
    if start is None or end is None or start == end:
        return None
    if tz is not None:
        start, end = start.astimezone(tz), end.astimezone(tz)
    since, until = start.date(), end.date() - dt.timedelta(days=1)
    if until < since:
        raise ValueError(f"the data interval [{start.isoformat()}, {end.isoformat()}) holds no whole day; "
                         "martops runs whole days: schedule the DAG daily (or longer)")
    return since, until


@dataclasses.dataclass(frozen=True)
class Project:
    """Where and how to call martops.

    `bin`: the martops executable (default `default_bin()`); `config`: a martops.yml passed as
    --config; `warehouse`: a warehouse path passed as --warehouse; `cwd`: the working directory of
    every call (default: the orchestrator's); `env`: extra environment variables.
    """

    bin: Optional[str] = None
    config: Optional[str] = None
    warehouse: Optional[str] = None
    cwd: Optional[str] = None
    env: Optional[dict] = None

    def executable(self) -> str:
        return self.bin or default_bin()

    def _call(self, args: Sequence[str]) -> subprocess.CompletedProcess:
        exe = self.executable()
        env = {**os.environ, **(self.env or {}), "NO_COLOR": "1", "COLUMNS": os.environ.get("COLUMNS", "120")}
        try:
            return subprocess.run([exe, *args], cwd=self.cwd, env=env, capture_output=True, text=True)
        except OSError as exc:
            raise MartopsError(f"cannot run martops at {exe} ({exc.strerror}); set {ENV_BIN} "
                               "to the core venv's martops") from None

    def _config_flag(self) -> list[str]:
        return ["--config", str(self.config)] if self.config else []

    def _project_flags(self) -> list[str]:
        flags = self._config_flag()
        if self.warehouse:
            flags += ["--warehouse", str(self.warehouse)]
        return flags

    def _json(self, args: Sequence[str], key: str) -> Any:
        done = self._call(args)
        command = " ".join(["martops", *args])
        if done.returncode != 0:
            raise MartopsError(f"`{command}` failed (exit {done.returncode}): "
                               f"{last_line(done.stderr) or last_line(done.stdout)}")
        try:
            return json.loads(done.stdout)[key]
        except (ValueError, KeyError, TypeError):
            raise MartopsError(f"`{command}` printed no {{\"{key}\": ...}} object: {done.stdout[:200]!r}") from None

    def steps(self, select: Optional[Iterable[str]] = None) -> list[Step]:
        """The selected steps (None: all) in run order; a selector matching nothing is martops' error."""
        args = ["steps", *(select or ()), "--format", "json"]
        return [Step.from_json(row) for row in self._json(args, "steps")]

    def checked_tables(self) -> list[str]:
        """The tables martops has checks for (built-in or martops.yml's): `martops check --list`."""
        return list(self._json(["check", "--list", "--format", "json", *self._config_flag()], "tables"))

    def run_step(self, step: str, since: Optional[dt.date] = None, until: Optional[dt.date] = None,
                 log: Callable[[str], None] = print) -> subprocess.CompletedProcess:
        """Run one step; its output goes to `log` line by line. Raises StepFailed on a non-zero exit."""
        args = ["run", step]
        if since is not None:
            args += ["--since", since.isoformat()]
        if until is not None:
            args += ["--until", until.isoformat()]
        args += self._project_flags()
        log(f"$ {self.executable()} {' '.join(args)}")
        done = self._call(args)
        for line in (done.stdout + done.stderr).splitlines():
            log(line)
        if done.returncode != 0:
            message = last_line(done.stderr) or last_line(done.stdout) or "(no message)"
            raise StepFailed(step, done.returncode, message, done.stdout, done.stderr)
        return done

    def check(self, tables: Sequence[str], log: Callable[[str], None] = print) -> list[dict]:
        """`martops check --select T1 --select T2 ... --format json` (one process for a step's
        tables): one dict per check (status pass/warn/fail/error, table, check, failing_count,
        blocking, message). Exit 1 only means a blocking check failed (the results say which); any
        other failure raises MartopsError with martops' error."""
        args = ["check", *(a for t in tables for a in ("--select", t)), "--format", "json", *self._project_flags()]
        log(f"$ {self.executable()} {' '.join(args)}")
        done = self._call(args)
        if done.stderr.strip():
            log(done.stderr.rstrip())
        try:
            return list(json.loads(done.stdout)["results"])
        except (ValueError, KeyError, TypeError):
            raise MartopsError(f"martops check of {', '.join(tables)} failed (exit {done.returncode}): "
                               f"{last_line(done.stderr) or last_line(done.stdout)}") from None


def last_line(text: str) -> str:
    """The last non-blank line of `text`, stripped (martops prints its one-line error last)."""
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return lines[-1] if lines else ""

