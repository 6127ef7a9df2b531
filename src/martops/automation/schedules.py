"""Schedules as `martops.yml` declares them (`schedules:`), validated when the file loads.

    schedules:
      - name: nightly
        cron: "0 6 * * *"
        select: [kpis, crm]
        timezone: Europe/Berlin
        missed: skip
        range: new

A bad schedule is an error naming the schedule and the field (`schedule 'nightly': cron field 2
(hour) must be 0-23, got '25' in '0 25 * * *'`), so `serve` never starts with a schedule that
cannot fire. The cron grammar is croniter's five fields (minute hour day-of-month month
day-of-week; day-of-week 0 or 7 is Sunday, names like `mon-fri` allowed), the one `cron` reads.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, model_validator

FIELDS = (("minute", "0-59"), ("hour", "0-23"), ("day of month", "1-31"), ("month", "1-12 or jan-dec"),
          ("day of week", "0-7 or sun-sat; 0 and 7 are Sunday"))
"""The five cron fields in order, with what each allows (for error messages)."""

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
_SELECTOR = re.compile(r"[^\s-]\S*")
"""One word not starting with '-' (never an option of `martops run`); `schedule` commands then check
it against the step graph as `martops run` does."""


def _words(value: object) -> object:
    """`select: kpis crm` (one string) means the same as `select: [kpis, crm]`; `select:` with no
    value is an empty selection (an error, see `Schedule._valid`)."""
    return value.split() if isinstance(value, str) else [] if value is None else value


def cron_problem(expr: str) -> str | None:
    """Why `expr` is not a five-field cron expression that fires, or None when it is one.

    Each field is tried alone (the others `*`) so the message names the field croniter rejects;
    then the whole expression must fire at least once (`0 6 31 2 *`, 31 February, never does).
    """
    from croniter import croniter

    fields = expr.split()
    if len(fields) != 5:
        return (f"must have 5 fields (minute hour day-of-month month day-of-week), got {len(fields)} "
                f"in {expr!r}")
    for i, (field, (what, allowed)) in enumerate(zip(fields, FIELDS)):
        alone = " ".join(field if j == i else "*" for j in range(5))
        if not croniter.is_valid(alone):
            return f"field {i + 1} ({what}) must be {allowed}, got {field!r} in {expr!r}"
    try:
        croniter(expr).get_next(float)
    except Exception:  # noqa: BLE001 - croniter raises its own error types for a date that never comes
        return f"never fires (no date matches day of month {fields[2]!r} in month {fields[3]!r}), got {expr!r}"
    return None


class Schedule(BaseModel):
    """One entry of `schedules:`: when to run which part of the project, and how to treat fires
    the scheduler was not running for."""

    model_config = ConfigDict(extra="forbid")

    name: str
    """Unique among the schedules; letters, digits, `_` and `-`. Runs are logged in ops.runs as
    step `schedule.<name>`, and cron appends their output to `.martops/logs/schedule-<name>.log`."""
    cron: str
    """Five-field cron expression (`0 6 * * *`: 06:00 every day) read in `timezone`. Day of week 0
    and 7 are Sunday, 1 is Monday, as in cron (not APScheduler's 0 = Monday)."""
    select: Annotated[list[str], BeforeValidator(_words)] = []
    """Selectors as `martops run` takes them (`kpis`, `kpis.load+`, `+attribution.report`); absent
    runs the whole project as martops.yml declares it. Given but empty (`[]`, `''`) is an error: a
    selection that names nothing is more likely a mistake than a wish for everything."""
    timezone: str = "UTC"
    """IANA time zone the cron expression is read in (`Europe/Berlin`). Across a change of the
    clocks it fires as cron does: a time skipped in spring fires at the change (02:30 -> 03:00);
    a fixed hour repeated in autumn fires once, an `*` hour in each real hour."""
    missed: Literal["skip", "run_once"] = "skip"
    """Fires `serve` could not run on time: while it was down (run at start), while the machine
    slept (run when it wakes), while this schedule's previous run was still going (run with the
    next fire). `skip` them, or `run_once`: one run for all of them together (with
    `range: previous_day`, over every missed day)."""
    range: Literal["new", "previous_day"] = "new"
    """The dates the run gets: `new` passes no --since/--until, so each domain loads its data's
    new range; `previous_day` passes --since/--until = the day before the fire, in `timezone`."""

    @model_validator(mode="after")
    def _valid(self) -> "Schedule":
        """Checked here, not per field, so that the error names the schedule."""
        from martops import config

        if not _NAME.fullmatch(self.name):
            raise ValueError(f"schedule name must be letters, digits, '_' and '-' (not first), got {self.name!r}")
        problem = cron_problem(self.cron)
        if problem:
            raise ValueError(f"schedule {self.name!r}: cron {problem}")
        if "select" in self.model_fields_set and not self.select:
            raise ValueError(f"schedule {self.name!r}: select is empty; leave select out to run the whole "
                             "project, or name selectors as `martops run` takes them (kpis, kpis.load+)")
        bad = [s for s in self.select if not _SELECTOR.fullmatch(s)]
        if bad:
            raise ValueError(f"schedule {self.name!r}: select takes selectors as `martops run` does (kpis, "
                             f"kpis.load+, +attribution.report), not options, got {bad[0]!r}")
        try:
            config._time_zone(self.timezone)
        except ValueError:
            raise ValueError(f"schedule {self.name!r}: timezone must be an IANA time zone name (UTC, "
                             f"Europe/Berlin, America/New_York), got {self.timezone!r}") from None
        return self


def _unique(schedules: list[Schedule]) -> list[Schedule]:
    seen: set[str] = set()
    twice = [s.name for s in schedules if s.name in seen or seen.add(s.name)]
    if twice:
        raise ValueError(f"schedule names must be unique, got {', '.join(map(repr, sorted(set(twice))))} more than once")
    return schedules


Schedules = Annotated[list[Schedule], AfterValidator(_unique)]
"""The `schedules:` section of martops.yml (ProjectConfig.schedules)."""
