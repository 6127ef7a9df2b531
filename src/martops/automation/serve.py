"""`martops schedule serve`: the project's schedules fired in this process by APScheduler 3.

Each fire runs `python -m martops run <selection> --config <project file>` as a child process in
the project folder (output appended to `.martops/logs/schedule-<name>.log`) and, once it ended,
records a row in ops.runs: step `schedule.<name>`, status success or failed, error = the run's
one-line error, params = the fire time, how many fires it covers and the command.

- A schedule never overlaps itself (APScheduler `max_instances=1`): a fire while its previous run
  is still going is skipped, and said. Runs of different schedules wait for each other, as they
  share one warehouse (DuckDB lets one process write at a time).
- Missed fires: at start, the last fire recorded in ops.runs tells which fires passed while serve
  was not running; within a run, APScheduler tells when it reaches a fire more than
  `MISFIRE_GRACE_SECONDS` late (the machine slept). `missed: skip` skips them, saying how many;
  `missed: run_once` runs once for all of them, at once (with `range: previous_day` over every
  missed day). A fire skipped for an overlap is caught up the same way by the next run.
- Ctrl-C stops serve: the running child gets one SIGINT (it rolls its step back), its row is
  recorded as failed, and serve exits 130.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Callable

import ibis
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from martops.automation.commands import date_range, log_file, run_argv
from martops.automation.firetimes import FireTimes, FireTimesTrigger
from martops.automation.schedules import Schedule
from martops.config import WarehouseConfig
from martops.engine import connect
from martops.engines.location import resolve
from martops.errors import ConfigError, MartopsError
from martops.ops.runlog import RUNS, SCHEMA, new_run_id

MISFIRE_GRACE_SECONDS = 60
"""A fire APScheduler reaches later than this (a suspended machine) counts as missed."""
CATCH_UP_LIMIT = 10_000
"""Missed fires counted at most (an every-minute schedule down for a month has 43,200)."""
UTC = dt.timezone.utc


@dataclasses.dataclass
class Outcome:
    """How one run ended: its exit code and, when it failed, its one-line error."""

    code: int
    error: str | None = None


Runner = Callable[[list[str], Path, Path], Outcome]
"""Runs a command line (argv, working directory, log file to append output to) to its end."""


def error_line(stderr: str, code: int) -> str:
    """The run's one-line error: its first `error:` line on stderr, else its last line, else the code."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    first = next((line for line in lines if line.startswith("error:")), None)
    if first:
        return first.removeprefix("error:").strip()
    if code == 130:
        return "interrupted (Ctrl-C)"
    return lines[-1] if lines else f"exited with code {code}"


class SubprocessRunner:
    """Runs each command as a child in a session of its own, so a Ctrl-C at the terminal reaches
    serve only, which forwards exactly one SIGINT (`interrupt`): a second one could cut the
    child's rollback."""

    def __init__(self) -> None:
        self._children: set[subprocess.Popen] = set()
        self._lock = threading.Lock()

    def __call__(self, argv: list[str], cwd: Path, log: Path) -> Outcome:
        (cwd / log).parent.mkdir(parents=True, exist_ok=True)
        with open(cwd / log, "ab") as out:
            out.write(f"--- {dt.datetime.now():%Y-%m-%d %H:%M:%S} {' '.join(argv)}\n".encode())
            out.flush()
            proc = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=subprocess.PIPE, start_new_session=True)
            with self._lock:
                self._children.add(proc)
            try:
                _, err = proc.communicate()
            finally:
                with self._lock:
                    self._children.discard(proc)
            out.write(err)
        if proc.returncode == 0:
            return Outcome(0)
        return Outcome(proc.returncode, error_line(err.decode("utf-8", "replace"), proc.returncode))

    def interrupt(self) -> None:
        with self._lock:
            for proc in self._children:
                proc.send_signal(signal.SIGINT)


class ScheduleServer:
    """The schedules of one project file, fired by a BackgroundScheduler (see the module doc).

    `runner` runs a fire's command line (default: a child process); `fires` overrides a schedule's
    fire times by name (tests fire every second with croniter's seconds field); `say` gets each
    line serve prints; after `max_runs` runs have ended, `done` is set.
    """

    def __init__(self, schedules: list[Schedule], config: Path, warehouse: WarehouseConfig, *,
                 runner: Runner | None = None, fires: dict[str, FireTimes] | None = None,
                 say: Callable[[str], None] = print, max_runs: int | None = None):
        self.schedules = schedules
        self.config = config.resolve()
        self.project = self.config.parent
        self.warehouse = warehouse
        where = resolve(None, warehouse.engine, warehouse.path, warehouse.dsn, warehouse.warehouse_dir)
        # what the run, started in the project folder, opens: a file there, or the same server
        self.location = str(self.project / where.target) if where.engine == "duckdb" else where.target
        self._local_file = where.engine == "duckdb"
        self.runner = runner or SubprocessRunner()
        self.fires = {s.name: FireTimes.of(s) for s in schedules} | (fires or {})
        self.say = say
        self.max_runs = max_runs
        self.done = threading.Event()
        self.runs = 0
        self.failed = 0
        self._last: dict[str, dt.datetime | None] = {}
        self._pending: list[dict] = []
        self._run_lock = threading.Lock()
        self._count_lock = threading.Lock()
        if logging.getLogger().getEffectiveLevel() >= logging.WARNING:  # without -v: our lines, not its
            logging.getLogger("apscheduler").setLevel(logging.CRITICAL)
        self.scheduler = BackgroundScheduler(
            timezone=UTC, executors={"default": ThreadPoolExecutor(max(1, len(schedules)))},
            job_defaults={"coalesce": True, "max_instances": 1})

    # -- start and stop -------------------------------------------------------------------
    def start(self) -> None:
        now = dt.datetime.now(UTC)
        history = self.history()
        for s in self.schedules:
            fires = self.fires[s.name]
            last = self._last[s.name] = history.get(s.name)
            missed = fires.between(last, now, CATCH_UP_LIMIT) if last else []
            catch_up = bool(missed) and s.missed == "run_once"
            if missed:
                what = (f"{s.name}: {_how_many(missed)} fire(s) from {_when(fires.local(missed[0]))} to "
                        f"{_when(fires.local(missed[-1]))} passed since the last recorded fire "
                        f"({_when(fires.local(last))})")
                self.say(f"{what}; running once now for them (missed: run_once)" if catch_up
                         else f"{what}; skipped (missed: skip)")
            self.scheduler.add_job(
                self._fire, FireTimesTrigger(fires), args=[s], id=s.name, name=s.name,
                misfire_grace_time=None if s.missed == "run_once" else MISFIRE_GRACE_SECONDS,
                **({"next_run_time": now} if catch_up else {}))
        self.scheduler.add_listener(self._event, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED | EVENT_JOB_ERROR)
        self.scheduler.start()
        for job in self.scheduler.get_jobs():
            self.say(f"{job.id}: next fire {_when(self.fires[job.id].local(job.next_run_time))}")

    def stop(self, interrupted: bool = False) -> None:
        """No new fire; with `interrupted`, the running child gets SIGINT; waits for it to end."""
        self.done.set()
        if not self.scheduler.running:
            return
        self.scheduler.pause()
        if interrupted and isinstance(self.runner, SubprocessRunner):
            self.runner.interrupt()
        self.scheduler.shutdown(wait=True)

    # -- one fire -------------------------------------------------------------------------
    def _fire(self, schedule: Schedule) -> None:
        fires = self.fires[schedule.name]
        fire = fires.latest(dt.datetime.now(UTC))
        with self._run_lock:  # one run at a time: the schedules share a warehouse
            if self.done.is_set():
                return
            last = self._last.get(schedule.name)
            if last is not None and fire <= last:
                return  # this fire ran already (a catch-up at start that met the fire itself)
            covered = (fires.between(last, fire, CATCH_UP_LIMIT) if schedule.missed == "run_once" and last
                       else []) or [fire]
            since, until = date_range(schedule, [covered[0], fire])
            argv = run_argv(schedule, self.config, executable=[sys.executable, "-m", "martops"],
                            since=since, until=until)
            started = dt.datetime.now()
            outcome = self.runner(argv, self.project, log_file(schedule))
            self._last[schedule.name] = fire
            self._record({
                "run_id": new_run_id(), "step": f"schedule.{schedule.name}",
                "params": json.dumps({"fire": fires.local(fire).isoformat(), "fires": len(covered), "select": schedule.select,
                                      "range": schedule.range, "exit_code": outcome.code,
                                      "command": " ".join(argv[3:])}, sort_keys=True),
                "since": since, "until": until, "started_at": started, "ended_at": dt.datetime.now(),
                "status": "success" if outcome.code == 0 else "failed", "rows_in": None, "rows_out": None,
                "error": outcome.error, "pid": os.getpid(), "host": socket.gethostname(),
            })
            span = f" --since {since} --until {until}" if since else ""
            covers = f" (catching up {_how_many(covered)} fires)" if len(covered) > 1 else ""
            result = "success" if outcome.code == 0 else f"failed (exit {outcome.code}): {outcome.error}"
            what = " ".join(schedule.select) or "(the whole project)"
            self.say(f"{schedule.name}: fire {_when(fires.local(fire))}{covers}: martops run {what}{span}: {result}")
            self._tally(outcome.code != 0)

    def _tally(self, failed: bool) -> None:
        with self._count_lock:
            self.runs += 1
            self.failed += failed
            if self.max_runs is not None and self.runs >= self.max_runs:
                self.done.set()

    def _event(self, event: JobExecutionEvent) -> None:
        local = self.fires[event.job_id].local
        if event.code == EVENT_JOB_MAX_INSTANCES:
            when = ", ".join(_when(local(t)) for t in event.scheduled_run_times)
            self.say(f"{event.job_id}: fire {when} skipped: its previous run is still going (a schedule never "
                     "overlaps itself)")
        elif event.code == EVENT_JOB_MISSED:
            self.say(f"{event.job_id}: fire {_when(local(event.scheduled_run_time))} missed (reached more than "
                     f"{MISFIRE_GRACE_SECONDS} s late, e.g. the machine slept); skipped (missed: skip)")
        else:
            self.say(f"error: {event.job_id}: the fire at {_when(local(event.scheduled_run_time))} failed in serve: "
                     f"{type(event.exception).__name__}: {event.exception}")
            self._tally(True)

    # -- ops.runs -------------------------------------------------------------------------
    def history(self) -> dict[str, dt.datetime]:
        """The last fire recorded in ops.runs per schedule name (none when there is no warehouse yet)."""
        if self._local_file and not Path(self.location).exists():
            return {}
        try:
            with connect(self.warehouse, path=self.location, create=False) as wh:
                if not wh.exists(RUNS):
                    return {}
                rows = wh.execute(f"SELECT step, params FROM {wh.quoted(RUNS)} WHERE step LIKE 'schedule.%'")
        except ConfigError:  # a database that holds no warehouse yet
            return {}
        last: dict[str, dt.datetime] = {}
        for step, params in rows:
            try:
                fire = dt.datetime.fromisoformat(json.loads(params)["fire"]).astimezone(UTC)
            except (TypeError, ValueError, KeyError):
                continue  # not a row serve wrote
            name = step.removeprefix("schedule.")
            last[name] = max(fire, last.get(name, fire))
        return last

    def _record(self, row: dict) -> None:
        """Append the row to ops.runs; if the warehouse is busy, keep it for after the next run."""
        self._pending.append(row)
        try:
            with connect(self.warehouse, path=self.location, create=True) as wh:
                wh.ensure_table(RUNS, SCHEMA)
                with wh.transaction():
                    for pending in self._pending:
                        wh.insert(RUNS, ibis.memtable({k: [v] for k, v in pending.items()}, schema=SCHEMA))
            self._pending.clear()
        except MartopsError as exc:
            self.say(f"warning: {row['step']}: not recorded in ops.runs yet ({exc}); retried after the next run")


def _how_many(times: list) -> str:
    return f"{len(times):,}+" if len(times) >= CATCH_UP_LIMIT else f"{len(times):,}"


def _when(t: dt.datetime | None) -> str:
    """`2024-06-01 06:00:00 CEST (04:00:00 UTC)`."""
    if t is None:
        return "never"
    utc = t.astimezone(UTC)
    local = f"{t:%Y-%m-%d %H:%M:%S} {t.tzname()}"
    return local if t.utcoffset() == dt.timedelta(0) else f"{local} ({utc:%Y-%m-%d %H:%M:%S} UTC)"


def serve(server: ScheduleServer) -> None:
    """Start, wait until `max_runs` runs ended or Ctrl-C (then re-raised once the child ended)."""
    server.start()
    try:
        while not server.done.wait(0.5):
            pass
    except KeyboardInterrupt:
        server.say(f"stopping (Ctrl-C): {server.runs} run(s) done; a run in progress is interrupted and recorded")
        server.stop(interrupted=True)
        raise
    server.stop()
